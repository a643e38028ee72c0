-- RFC 8707 resource indicators: the resources an authorization named, as a
-- JSON list of configured identifiers, carried by its code and then its
-- grant; and the resources a user consented to per client, so a remembered
-- consent skips the page only for resources it covered. '[]' (none named)
-- keeps the behaviour from before: tokens for the example API.

ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE grants ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE consents ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
