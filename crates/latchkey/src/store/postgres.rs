//! The PostgreSQL backend, for several instances sharing one database.
//! The pool skips the ping before each checkout (it halves throughput);
//! a broken connection surfaces as an error on the query that used it.
//! Waits are bounded: for a connection (`acquire_timeout`), and for each
//! statement by the server (`statement_timeout`, also `lock_timeout`); a
//! server that stops answering altogether is bounded by the request
//! timeout in `http`.
//!
//! The hot-path operations ([`HotPath`]) run through the pool too, as
//! every other; their SQL is in `hot.rs`.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use sqlx::Row as _;

use crate::config::DatabaseSettings;
use crate::secret::TokenDigest;

use super::accounts::{api_key, membership, organization, session, subject, user};
use super::clients::client;
use super::grants::{authorization_code, grant, refresh_token};
use super::hot::{self, HotPath};
use super::sql::{all, changed, json_list, to_json_list};
use super::{
    ApiKeyRecord, AuthorizationCodeRecord, ClientRecord, CodeExchange, GrantRecord, MembershipRecord,
    OrganizationRecord, RefreshTokenRecord, SessionRecord, StoreError, UserRecord, backend, map_sqlx,
};

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and migrates; the migrator takes an advisory lock, so
    /// instances starting together do not race.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let millis = settings.statement_timeout.as_millis().to_string();
        let options = PgConnectOptions::from_str(settings.url.expose())
            .map_err(backend)?
            .options([
                ("statement_timeout", millis.as_str()),
                ("lock_timeout", millis.as_str()),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .after_release(super::release_check)
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        super::migrations::migrator(super::migrations::POSTGRES)
            .await
            .map_err(backend)?
            .run(&pool)
            .await
            .map_err(backend)?;
        Ok(Self { pool })
    }

    /// The hot-path operations: through the pool, as everything else.
    fn hot(&self) -> &Self {
        self
    }
}

super::sql::impl_store!(PostgresStore, sqlx::Postgres);
super::clients::impl_client_store!(PostgresStore, sqlx::Postgres);
super::client_documents::impl_client_document_store!(PostgresStore, sqlx::Postgres);
super::accounts::impl_account_store!(PostgresStore, sqlx::Postgres);
super::grants::impl_grant_store!(PostgresStore, sqlx::Postgres);
super::keys::impl_key_store!(PostgresStore, sqlx::Postgres);
super::audit::impl_audit_store!(PostgresStore, sqlx::Postgres);
super::resources::impl_resource_store!(PostgresStore, sqlx::Postgres);
super::registrations::impl_registration_store!(PostgresStore, sqlx::Postgres);
super::delegate::impl_delegate_store!(PostgresStore, sqlx::Postgres);
super::user_tokens::impl_user_token_store!(PostgresStore, sqlx::Postgres);
super::passkeys::impl_passkey_store!(PostgresStore, sqlx::Postgres);
super::second_factor::impl_second_factor_store!(PostgresStore, sqlx::Postgres);

async fn insert_refresh_token(
    connection: &mut sqlx::PgConnection,
    r: &RefreshTokenRecord,
) -> Result<(), StoreError> {
    sqlx::query(hot::INSERT_REFRESH_TOKEN)
        .bind(r.token_digest.0.to_vec())
        .bind(&r.grant_id)
        .bind(&r.client_id)
        .bind(to_json_list(&r.scopes)?)
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(r.used_at)
        .execute(connection)
        .await
        .map_err(map_sqlx)?;
    Ok(())
}

impl PostgresStore {
    /// The row a hot-path query finds by one key, mapped.
    async fn one<'q, T>(
        &self,
        sql: &'static str,
        key: impl sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + 'q,
        map: fn(&sqlx::postgres::PgRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        row.as_ref().map(map).transpose()
    }
}

impl HotPath for PostgresStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.one(hot::FIND_CLIENT, client_id, client).await
    }

    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.one(hot::FIND_USER, id, user).await
    }

    async fn find_organization(&self, id: &str) -> Result<Option<OrganizationRecord>, StoreError> {
        self.one(hot::FIND_ORGANIZATION, id, organization).await
    }

    async fn list_memberships(&self, user_id: &str) -> Result<Vec<MembershipRecord>, StoreError> {
        let rows = sqlx::query(hot::LIST_MEMBERSHIPS)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        all(rows, membership)
    }

    async fn find_subject(
        &self,
        user_id: &str,
        organization_id: &str,
    ) -> Result<Option<super::SubjectRecord>, StoreError> {
        let row = sqlx::query(hot::FIND_SUBJECT)
            .bind(user_id)
            .bind(organization_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        row.as_ref().map(subject).transpose()
    }

    async fn find_session(&self, id_digest: &TokenDigest) -> Result<Option<SessionRecord>, StoreError> {
        self.one(hot::FIND_SESSION, id_digest.0.to_vec(), session).await
    }

    async fn find_consent(
        &self,
        user_id: &str,
        organization_id: &str,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let row = sqlx::query(hot::FIND_CONSENT)
            .bind(user_id)
            .bind(organization_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        row.as_ref().map(|r| json_list(r, "scopes")).transpose()
    }

    async fn insert_authorization_code(&self, c: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        sqlx::query(hot::INSERT_AUTHORIZATION_CODE)
            .bind(c.code_digest.0.to_vec())
            .bind(&c.client_id)
            .bind(&c.user_id)
            .bind(&c.organization_id)
            .bind(&c.redirect_uri)
            .bind(c.redirect_uri_given)
            .bind(to_json_list(&c.scopes)?)
            .bind(&c.code_challenge)
            .bind(&c.code_challenge_method)
            .bind(&c.nonce)
            .bind(c.auth_time)
            .bind(c.created_at)
            .bind(c.expires_at)
            .bind(c.consumed_at)
            .bind(&c.grant_id)
            .bind(to_json_list(&c.resources)?)
            .bind(to_json_list(&c.amr)?)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn find_authorization_code(
        &self,
        code_digest: &TokenDigest,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        self.one(
            hot::FIND_AUTHORIZATION_CODE,
            code_digest.0.to_vec(),
            authorization_code,
        )
        .await
    }

    async fn exchange_authorization_code(
        &self,
        code_digest: &TokenDigest,
        g: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
        now: i64,
    ) -> Result<CodeExchange, StoreError> {
        let row = sqlx::query(hot::PG_EXCHANGE_AUTHORIZATION_CODE)
            .bind(now)
            .bind(&g.id)
            .bind(code_digest.0.to_vec())
            .bind(&g.client_id)
            .bind(&g.user_id)
            .bind(&g.organization_id)
            .bind(to_json_list(&g.scopes)?)
            .bind(g.auth_time)
            .bind(g.created_at)
            .bind(g.revoked_at)
            .bind(refresh.is_some())
            .bind(refresh.map(|r| r.token_digest.0.to_vec()))
            .bind(refresh.map(|r| r.client_id.as_str()))
            .bind(refresh.map(|r| to_json_list(&r.scopes)).transpose()?)
            .bind(refresh.map(|r| r.created_at))
            .bind(refresh.map(|r| r.expires_at))
            .bind(refresh.and_then(|r| r.used_at))
            .bind(refresh.map(|r| r.grant_id.as_str()))
            .bind(to_json_list(&g.resources)?)
            .bind(to_json_list(&g.amr)?)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let exchanged: i64 = row.try_get("exchanged").map_err(map_sqlx)?;
        if exchanged == 1 {
            return Ok(CodeExchange::Exchanged);
        }
        let row = sqlx::query(hot::CODE_GRANT_ID)
            .bind(code_digest.0.to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let grant_id = match row {
            Some(row) => row.try_get("grant_id").map_err(map_sqlx)?,
            None => None,
        };
        Ok(CodeExchange::AlreadyConsumed { grant_id })
    }

    async fn find_grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
        self.one(hot::FIND_GRANT, id, grant).await
    }

    async fn access_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(hot::ACCESS_TOKEN_IS_LIVE)
            .bind(grant_id)
            .bind(true)
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(row.is_some())
    }

    async fn client_credentials_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(hot::CLIENT_CREDENTIALS_TOKEN_IS_LIVE)
            .bind(grant_id)
            .bind(true)
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(row.is_some())
    }

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let mut connection = self.pool.acquire().await.map_err(map_sqlx)?;
        insert_refresh_token(&mut connection, token).await
    }

    async fn find_refresh_token(
        &self,
        token_digest: &TokenDigest,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        self.one(hot::FIND_REFRESH_TOKEN, token_digest.0.to_vec(), refresh_token)
            .await
    }

    /// Three round trips, one after the other: on PostgreSQL each read is
    /// a round trip whether joined or not, and the three are short.
    async fn find_refresh_context(
        &self,
        token_digest: &TokenDigest,
    ) -> Result<Option<super::RefreshContext>, StoreError> {
        let Some(token) = HotPath::find_refresh_token(self, token_digest).await? else {
            return Ok(None);
        };
        let grant = HotPath::find_grant(self, &token.grant_id).await?;
        let subject = match &grant {
            Some(grant) => HotPath::find_subject(self, &grant.user_id, &grant.organization_id).await?,
            None => None,
        };
        Ok(Some(super::RefreshContext {
            token,
            grant,
            subject,
        }))
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(hot::PG_ROTATE_REFRESH_TOKEN)
            .bind(&successor.grant_id)
            .bind(now)
            .bind(old.0.to_vec())
            .bind(successor.token_digest.0.to_vec())
            .bind(&successor.client_id)
            .bind(to_json_list(&successor.scopes)?)
            .bind(successor.created_at)
            .bind(successor.expires_at)
            .bind(successor.used_at)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(changed(result))
    }

    async fn find_api_key(&self, digest: &TokenDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.one(hot::FIND_API_KEY, digest.0.to_vec(), api_key).await
    }

    async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(hot::TOUCH_API_KEY)
            .bind(now)
            .bind(id)
            .bind(now - 60)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }
}
