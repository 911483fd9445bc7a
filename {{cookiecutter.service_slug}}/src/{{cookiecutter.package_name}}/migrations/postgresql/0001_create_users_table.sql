-- Create the users table and its six named indexes.
CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT true,
    email_verified BOOLEAN NOT NULL DEFAULT false,
    verification_token VARCHAR(255) NULL,
    verification_token_expires_at TIMESTAMPTZ NULL,
    last_login_at TIMESTAMPTZ NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Unique on lower(email): one account per address whatever its case. It also
-- serves every lookup by email, so it takes the seed's users_email_idx name
-- instead of duplicating the plain UNIQUE constraint's index.
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));
CREATE INDEX users_email_verified_idx ON users (email_verified);
CREATE INDEX users_is_active_idx ON users (is_active);
CREATE INDEX users_verification_token_idx ON users (verification_token);
CREATE INDEX users_created_at_idx ON users (created_at);
CREATE INDEX users_active_verified_idx ON users (is_active, email_verified);
