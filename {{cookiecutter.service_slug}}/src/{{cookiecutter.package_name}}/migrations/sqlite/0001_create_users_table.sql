-- Create the users table and its six named indexes.
-- SQLite has no UUID, BOOLEAN or TIMESTAMPTZ: ids are canonical UUID text,
-- booleans are 0/1 (checked), timestamps are UTC ISO 8601 text with a Z.
CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    email VARCHAR(255) NOT NULL CHECK (length(email) <= 255),
    password_hash VARCHAR(255) NOT NULL CHECK (length(password_hash) <= 255),
    name VARCHAR(255) NOT NULL CHECK (length(name) <= 255),
    is_active BOOLEAN NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    email_verified BOOLEAN NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    verification_token VARCHAR(255) NULL,
    verification_token_expires_at TIMESTAMP NULL,
    last_login_at TIMESTAMP NULL,
    created_at TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Unique on lower(email), as in every dialect: one account per address whatever its case.
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));
CREATE INDEX users_email_verified_idx ON users (email_verified);
CREATE INDEX users_is_active_idx ON users (is_active);
CREATE INDEX users_verification_token_idx ON users (verification_token);
CREATE INDEX users_created_at_idx ON users (created_at);
CREATE INDEX users_active_verified_idx ON users (is_active, email_verified);
