//! The storage operations on the hot paths — every token request, token
//! check, sign-in and authorization — as one trait each backend implements
//! in its fastest way, and their SQL, written once for both: PostgreSQL
//! runs them through the sqlx pool (`postgres.rs`), SQLite through connections
//! of its own (`direct.rs`). The other operations of [`Store`](super::Store)
//! go through sqlx on both backends; `Store`'s methods of the same names
//! delegate here.
//!
//! The SQL uses `$n` placeholders, which both sqlx and SQLite accept
//! (SQLite numbers `$1`, `$2`, … in order of first appearance, so every
//! statement here names its parameters in increasing order).

use crate::secret::TokenDigest;

use super::{
    ApiKeyRecord, AuthorizationCodeRecord, ClientRecord, CodeExchange, GrantRecord, MembershipRecord,
    OrganizationRecord, RefreshContext, RefreshTokenRecord, SessionRecord, StoreError, SubjectRecord,
    UserRecord,
};

/// The hot-path operations; see [`Store`](super::Store) for what each does.
pub(crate) trait HotPath {
    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn find_organization(&self, id: &str) -> Result<Option<OrganizationRecord>, StoreError>;
    async fn list_memberships(&self, user_id: &str) -> Result<Vec<MembershipRecord>, StoreError>;
    async fn find_subject(
        &self,
        user_id: &str,
        organization_id: &str,
    ) -> Result<Option<SubjectRecord>, StoreError>;
    async fn find_session(&self, id_digest: &TokenDigest) -> Result<Option<SessionRecord>, StoreError>;
    async fn find_consent(
        &self,
        user_id: &str,
        organization_id: &str,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError>;
    async fn insert_authorization_code(&self, code: &AuthorizationCodeRecord) -> Result<(), StoreError>;
    async fn find_authorization_code(
        &self,
        code_digest: &TokenDigest,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError>;
    async fn exchange_authorization_code(
        &self,
        code_digest: &TokenDigest,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
        now: i64,
    ) -> Result<CodeExchange, StoreError>;
    async fn find_grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError>;
    async fn access_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError>;
    async fn client_credentials_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError>;
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;
    async fn find_refresh_token(
        &self,
        token_digest: &TokenDigest,
    ) -> Result<Option<RefreshTokenRecord>, StoreError>;
    async fn find_refresh_context(
        &self,
        token_digest: &TokenDigest,
    ) -> Result<Option<RefreshContext>, StoreError>;
    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<bool, StoreError>;
    async fn find_api_key(&self, digest: &TokenDigest) -> Result<Option<ApiKeyRecord>, StoreError>;
    async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError>;
}

pub(crate) const FIND_CLIENT: &str = "SELECT client_id, secret_digest, name, description, homepage_url, logo_url, \
     redirect_uris, allowed_scopes, token_endpoint_auth_method, organization_id, \
     id_token_signed_response_alg, grant_types, enabled, created_at, updated_at, origin FROM clients WHERE client_id = $1";

pub(crate) const FIND_USER: &str = "SELECT id, email, name, email_verified, password_hash, created_at, updated_at \
     FROM users WHERE id = $1";

pub(crate) const FIND_ORGANIZATION: &str = "SELECT id, name, created_at FROM organizations WHERE id = $1";

pub(crate) const LIST_MEMBERSHIPS: &str = "SELECT organization_id, user_id, role, created_at FROM memberships \
     WHERE user_id = $1 ORDER BY created_at, organization_id";

/// `$1` the user, `$2` the organization; the organization's columns are
/// renamed so the user's keep their names.
pub(crate) const FIND_SUBJECT: &str = "SELECT u.id, u.email, u.name, u.email_verified, u.password_hash, \
     u.created_at, u.updated_at, o.id AS organization_id, o.name AS organization_name, \
     o.created_at AS organization_created_at, m.role \
     FROM users u JOIN organizations o ON u.id = $1 AND o.id = $2 \
     LEFT JOIN memberships m ON m.user_id = u.id AND m.organization_id = o.id";

pub(crate) const FIND_SESSION: &str = "SELECT id_digest, user_id, auth_time, created_at, expires_at, \
     user_agent, last_seen_at, amr FROM sessions WHERE id_digest = $1";

pub(crate) const FIND_CONSENT: &str =
    "SELECT scopes FROM consents WHERE user_id = $1 AND organization_id = $2 AND client_id = $3";

pub(crate) const INSERT_AUTHORIZATION_CODE: &str = "INSERT INTO authorization_codes (code_digest, client_id, \
     user_id, organization_id, redirect_uri, redirect_uri_given, scopes, code_challenge, \
     code_challenge_method, nonce, auth_time, created_at, expires_at, consumed_at, grant_id, resources, amr) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

pub(crate) const FIND_AUTHORIZATION_CODE: &str = "SELECT code_digest, client_id, user_id, organization_id, \
     redirect_uri, redirect_uri_given, scopes, code_challenge, code_challenge_method, nonce, auth_time, \
     created_at, expires_at, consumed_at, grant_id, resources, amr FROM authorization_codes WHERE code_digest = $1";

/// Consumes an unconsumed code: `$1` now, `$2` the grant, `$3` the digest.
pub(crate) const CONSUME_AUTHORIZATION_CODE: &str = "UPDATE authorization_codes SET consumed_at = $1, grant_id = $2 \
     WHERE code_digest = $3 AND consumed_at IS NULL";

pub(crate) const CODE_GRANT_ID: &str = "SELECT grant_id FROM authorization_codes WHERE code_digest = $1";

pub(crate) const INSERT_GRANT: &str = "INSERT INTO grants (id, client_id, user_id, organization_id, scopes, \
     auth_time, created_at, revoked_at, resources, amr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(crate) const FIND_GRANT: &str = "SELECT id, client_id, user_id, organization_id, scopes, auth_time, \
     created_at, revoked_at, resources, amr FROM grants WHERE id = $1";

/// `$1` the grant, `$2` true, `$3` the token's jti.
pub(crate) const ACCESS_TOKEN_IS_LIVE: &str = "SELECT 1 AS live FROM grants g \
     JOIN clients c ON c.client_id = g.client_id \
     WHERE g.id = $1 AND g.revoked_at IS NULL AND c.enabled = $2 \
     AND NOT EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $3)";

/// A client_credentials token's liveness: `$1` the grant, `$2` true, `$3`
/// the token's jti. The client must still own the grant's organization.
pub(crate) const CLIENT_CREDENTIALS_TOKEN_IS_LIVE: &str = "SELECT 1 AS live FROM client_credentials_grants g \
     JOIN clients c ON c.client_id = g.client_id \
     WHERE g.id = $1 AND g.revoked_at IS NULL AND c.enabled = $2 AND c.organization_id = g.organization_id \
     AND NOT EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $3)";

pub(crate) const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens (token_digest, grant_id, client_id, \
     scopes, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub(crate) const FIND_REFRESH_TOKEN: &str = "SELECT token_digest, grant_id, client_id, scopes, created_at, \
     expires_at, used_at FROM refresh_tokens WHERE token_digest = $1";

/// Marks an unused token used: `$1` now, `$2` the digest.
pub(crate) const USE_REFRESH_TOKEN: &str =
    "UPDATE refresh_tokens SET used_at = $1 WHERE token_digest = $2 AND used_at IS NULL";

pub(crate) const FIND_API_KEY: &str = "SELECT id, organization_id, name, scopes, key_digest, created_at, \
     last_used_at, revoked_at FROM api_keys WHERE key_digest = $1";

/// Records a use at most once a minute: `$1` now, `$2` the key, `$3` a minute ago.
pub(crate) const TOUCH_API_KEY: &str = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
     AND (last_used_at IS NULL OR last_used_at < $3)";

/// PostgreSQL's rotation in one statement (one round trip, no explicit
/// transaction): locks the used token's grant row while the grant is live,
/// marks the token used if it is unused, and inserts the successor — one
/// row affected when rotated. The grant lock orders a rotation and a
/// revocation of the same grant: a revocation that comes first leaves
/// nothing to rotate, and one that comes second deletes the successor too.
/// `$1` the successor's grant, `$2` now, `$3` the used token's digest,
/// `$4`–`$9` the successor's digest, client, scopes, created, expires and
/// used times.
pub(crate) const PG_ROTATE_REFRESH_TOKEN: &str = "WITH live AS ( \
       SELECT g.id FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id \
       WHERE t.token_digest = $3 AND g.revoked_at IS NULL FOR UPDATE OF g \
     ), used AS ( \
       UPDATE refresh_tokens SET used_at = $2 \
       WHERE token_digest = $3 AND used_at IS NULL AND grant_id IN (SELECT id FROM live) \
       RETURNING grant_id \
     ) \
     INSERT INTO refresh_tokens (token_digest, grant_id, client_id, scopes, created_at, expires_at, used_at) \
     SELECT $4, $1, $5, $6, $7, $8, $9 FROM used";

/// PostgreSQL's code exchange in one statement: consumes the code if it is
/// unconsumed, then inserts the grant and, when `$11` is true, the refresh
/// token; `exchanged` is 1 when this statement consumed the code. `$1` now,
/// `$2` the grant id, `$3` the code's digest, `$4`–`$10` the grant's
/// client, user, organization, scopes, auth time, created and revoked
/// times, `$12`–`$18` the refresh token's digest, client, scopes, created,
/// expires and used times, and grant, `$19` the grant's resources, `$20` its
/// authentication methods.
pub(crate) const PG_EXCHANGE_AUTHORIZATION_CODE: &str = "WITH consumed AS ( \
       UPDATE authorization_codes SET consumed_at = $1, grant_id = $2 \
       WHERE code_digest = $3 AND consumed_at IS NULL RETURNING code_digest \
     ), granted AS ( \
       INSERT INTO grants (id, client_id, user_id, organization_id, scopes, auth_time, created_at, revoked_at, \
       resources, amr) SELECT $2, $4, $5, $6, $7, $8, $9, $10, $19, $20 FROM consumed RETURNING id \
     ), refreshed AS ( \
       INSERT INTO refresh_tokens (token_digest, grant_id, client_id, scopes, created_at, expires_at, used_at) \
       SELECT $12, $18, $13, $14, $15, $16, $17 FROM granted WHERE $11 RETURNING grant_id \
     ) \
     SELECT (SELECT count(*) FROM granted) AS exchanged, (SELECT count(*) FROM refreshed) AS refreshed";
