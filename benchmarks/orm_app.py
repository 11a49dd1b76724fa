"""What a user would write instead of a generated service: the bookstore's two reads and its
create as the common FastAPI + SQLAlchemy tutorials write them, for benchmarks/read_path.py
(`--orm`) and benchmarks/write_path.py.

An async engine and a session per request from a dependency, ORM models with the many-to-many
tags loaded by `selectinload`, Pydantic response models read from the ORM objects
(`from_attributes`), FastAPI's own serialisation, uvicorn. No cache, no rate limiter, no
metrics: the "before" most users have. Run by the benchmark, in the project's environment:

    ORM_DATABASE_URL=postgresql+asyncpg://… uvicorn orm_app:app --app-dir benchmarks
"""

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, DateTime, ForeignKey, Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

engine = create_async_engine(os.environ["ORM_DATABASE_URL"], pool_size=15)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


book_tags = Table(
    "book_tags",
    Base.metadata,
    Column("book_id", ForeignKey("book.id"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str]


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    isbn: Mapped[str | None]
    price: Mapped[Decimal | None]
    status: Mapped[str]
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int]
    tags: Mapped[list[Tag]] = relationship(secondary=book_tags)


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)


class TagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label: str


class BookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    isbn: str | None
    price: Decimal | None
    status: str
    published_at: datetime | None
    author_id: int
    tags: list[TagOut]
    created_at: datetime
    updated_at: datetime
    version: int


class BookIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    isbn: str | None = Field(None, pattern=r"^97[89][0-9]{10}$")
    price: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)
    status: Literal["draft", "published", "retired"] = "draft"
    published_at: datetime | None = None
    author: int
    tags: list[int] = []


class BookPatch(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=200)
    isbn: str | None = Field(None, pattern=r"^97[89][0-9]{10}$")
    price: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)
    status: Literal["draft", "published", "retired"] | None = None
    published_at: datetime | None = None
    author: int | None = None
    tags: list[int] | None = None


class BookPage(BaseModel):
    items: list[BookOut]
    limit: int


async def get_db() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


Db = Annotated[AsyncSession, Depends(get_db)]
app = FastAPI()


@app.get("/api/v1/books/{book_id}", response_model=BookOut)
async def read_book(book_id: int, db: Db) -> Book:
    book = await db.scalar(select(Book).options(selectinload(Book.tags)).where(Book.id == book_id))
    if book is None:
        raise HTTPException(status_code=404, detail="Book not found")
    return book


@app.get("/api/v1/books", response_model=BookPage)
async def list_books(
    db: Db, status: str | None = None, sort: str = "id", limit: int = Query(20, le=100)
) -> BookPage:
    query = select(Book).options(selectinload(Book.tags))
    if status is not None:
        query = query.where(Book.status == status)
    column = getattr(Book, sort.lstrip("-"))
    query = query.order_by(column.desc() if sort.startswith("-") else column, Book.id).limit(limit)
    books = (await db.scalars(query)).all()
    return BookPage(items=[BookOut.model_validate(book) for book in books], limit=limit)


@app.post("/api/v1/books", response_model=BookOut, status_code=201)
async def create_book(payload: BookIn, db: Db) -> Book:
    now = datetime.now(UTC)
    book = Book(
        **payload.model_dump(exclude={"author", "tags"}),
        author_id=payload.author,
        created_at=now,
        updated_at=now,
        version=1,
    )
    book.tags = list((await db.scalars(select(Tag).where(Tag.id.in_(payload.tags)))).all())
    db.add(book)
    await db.commit()
    return book


@app.patch("/api/v1/books/{book_id}", response_model=BookOut)
async def update_book(book_id: int, payload: BookPatch, db: Db) -> Book:
    book = await db.scalar(select(Book).options(selectinload(Book.tags)).where(Book.id == book_id))
    if book is None:
        raise HTTPException(status_code=404, detail="Book not found")
    data = payload.model_dump(exclude_unset=True)
    if "author" in data:
        data["author_id"] = data.pop("author")
    if "tags" in data:
        book.tags = list((await db.scalars(select(Tag).where(Tag.id.in_(data.pop("tags"))))).all())
    for key, value in data.items():
        setattr(book, key, value)
    book.updated_at = datetime.now(UTC)
    book.version += 1
    await db.commit()
    return book


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ok"}
