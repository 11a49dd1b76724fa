CREATE TABLE authors (
    author_id serial PRIMARY KEY,
    full_name varchar(100) NOT NULL,
    email varchar(200) NOT NULL,
    mentor integer REFERENCES authors (author_id) ON DELETE SET NULL,
    CONSTRAINT authors_email_unique UNIQUE (email)
);
CREATE TABLE books (
    id bigserial PRIMARY KEY,
    title varchar(200) NOT NULL,
    price numeric(10, 2) CHECK (price >= 0),
    rating integer CHECK (rating BETWEEN 1 AND 5),
    status varchar(9) NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    pages integer CHECK (pages % 2 = 0),
    author_id integer NOT NULL REFERENCES authors (author_id) ON DELETE CASCADE,
    published_on date,
    CONSTRAINT books_title_author UNIQUE (title, author_id)
);
CREATE INDEX books_published ON books (published_on);
CREATE TABLE tags (id bigserial PRIMARY KEY, label varchar(40) NOT NULL UNIQUE);
CREATE TABLE book_tags (
    book_id bigint NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    tag_id bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (book_id, tag_id)
);
CREATE TABLE loans (
    id serial PRIMARY KEY,
    book_id bigint NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    author_id integer NOT NULL REFERENCES authors (author_id) ON DELETE RESTRICT,
    lent_on date NOT NULL,
    CONSTRAINT loans_once UNIQUE (book_id, author_id)
);
CREATE TABLE audit_log (happened text, what text);
INSERT INTO authors (full_name, email) VALUES ('Ada Lovelace', 'ada@example.org');
INSERT INTO authors (full_name, email, mentor) VALUES ('Charles Babbage', 'cb@example.org', 1);
INSERT INTO books (title, price, rating, status, author_id, published_on)
    VALUES ('Notes', 12.50, 5, 'published', 1, '1843-09-01'), ('Engines', 30.00, 4, 'draft', 2, NULL);
INSERT INTO tags (label) VALUES ('math'), ('history');
INSERT INTO book_tags VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO loans (book_id, author_id, lent_on) VALUES (1, 2, '2024-01-02');
