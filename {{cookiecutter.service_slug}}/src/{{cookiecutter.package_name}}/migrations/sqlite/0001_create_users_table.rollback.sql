-- Undo 0001_create_users_table: statements mirror the forward file in reverse.
DROP INDEX users_active_verified_idx;
DROP INDEX users_created_at_idx;
DROP INDEX users_verification_token_idx;
DROP INDEX users_is_active_idx;
DROP INDEX users_email_verified_idx;
DROP INDEX users_email_idx;
DROP TABLE users;
