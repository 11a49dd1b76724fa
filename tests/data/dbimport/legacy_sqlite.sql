CREATE TABLE authors (
    author_id INTEGER PRIMARY KEY,
    full_name VARCHAR(100) NOT NULL,
    email TEXT NOT NULL UNIQUE,
    mentor INTEGER REFERENCES authors (author_id) ON DELETE SET NULL
);
CREATE TABLE books (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title VARCHAR(200) NOT NULL,
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    pages INTEGER CHECK (pages % 2 = 0),
    author_id INTEGER NOT NULL REFERENCES authors (author_id) ON DELETE CASCADE,
    published_on DATE,
    UNIQUE (title, author_id)
);
CREATE INDEX books_published ON books (published_on);
CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL UNIQUE);
CREATE TABLE book_tags (
    book_id INTEGER NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (book_id, tag_id)
);
CREATE TABLE loans (
    id INTEGER PRIMARY KEY,
    book_id INTEGER NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    author_id INTEGER NOT NULL REFERENCES authors (author_id) ON DELETE RESTRICT,
    lent_on DATE NOT NULL,
    CONSTRAINT loans_once UNIQUE (book_id, author_id)
);
CREATE TABLE bins (
    id INTEGER PRIMARY KEY,
    code VARCHAR(10) NOT NULL,
    room TEXT NOT NULL,
    price NUMERIC(10, 2) CHECK (price >= 0),
    status VARCHAR(9) NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    parent_id INTEGER,
    keeper_id INTEGER,
    CONSTRAINT bins_code_room UNIQUE (code, room),
    CONSTRAINT bins_parent FOREIGN KEY (parent_id) REFERENCES bins (id) ON DELETE SET NULL,
    FOREIGN KEY (keeper_id) REFERENCES authors (author_id) ON DELETE CASCADE,
    CONSTRAINT bins_code_long CHECK (length(code) > 1)
);
CREATE UNIQUE INDEX bins_room_status ON bins (room, status);
CREATE TABLE audit_log (happened TEXT, what TEXT);
INSERT INTO authors (full_name, email) VALUES ('Ada Lovelace', 'ada@example.org');
INSERT INTO authors (full_name, email, mentor) VALUES ('Charles Babbage', 'cb@example.org', 1);
INSERT INTO books (title, rating, author_id, published_on)
    VALUES ('Notes', 5, 1, '1843-09-01'), ('Engines', 4, 2, NULL);
INSERT INTO tags (label) VALUES ('math'), ('history');
INSERT INTO book_tags VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO loans (book_id, author_id, lent_on) VALUES (1, 2, '2024-01-02');
INSERT INTO bins (code, room, price, status, keeper_id) VALUES ('A1', 'cellar', 3.50, 'published', 1);
INSERT INTO bins (code, room, parent_id) VALUES ('A2', 'attic', 1);
