-- OpenID Connect Dynamic Client Registration §2: the algorithm a client asks
-- its ID tokens to be signed with (RS256, ES256 or EdDSA); NULL for the
-- configured tokens.signing_alg.

ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT;
