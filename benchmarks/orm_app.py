"""What a user would write instead of a generated service: the bookstore's two reads as the
common FastAPI + SQLAlchemy tutorials write them, for benchmarks/read_path.py (`--orm`).

An async engine and a session per request from a dependency, ORM models with the many-to-many
tags loaded by `selectinload`, Pydantic response models read from the ORM objects
(`from_attributes`), FastAPI's own serialisation, uvicorn. No cache, no rate limiter, no
metrics: the "before" most users have. Run by the benchmark, in the project's environment:

    ORM_DATABASE_URL=postgresql+asyncpg://… uvicorn orm_app:app --app-dir benchmarks
"""

import os
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, ForeignKey, Table, select
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
    published_at: Mapped[datetime | None]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
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


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ok"}
