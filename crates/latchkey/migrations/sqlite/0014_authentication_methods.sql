-- How the user authenticated (RFC 8176 `amr` values, a JSON list): the
-- browser session records it at sign-in, its authorization codes and then
-- their grants carry it to the ID token (`amr`, and the `acr` it amounts
-- to). '[]' (nothing recorded, rows from before) puts neither in a token.

ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE grants ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
