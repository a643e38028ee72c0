//! Storage of OAuth clients and their scope reviews: [`ClientStore`], its
//! records, their row mappers, and its SQL ([`impl_client_store!`], expanded
//! by both backends).
//! The methods on the hot path delegate to [`HotPath`](super::hot::HotPath).

use async_trait::async_trait;

use crate::oauth::grant_type::GrantType;
use crate::secret::TokenDigest;
use latchkey_verify::Alg;

use super::sql::{SqlRow, digest_column, json_list};
use super::{StoreError, backend};

/// An OAuth client (SPEC 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    /// `None` for public clients.
    pub secret_digest: Option<TokenDigest>,
    pub name: String,
    pub description: String,
    pub homepage_url: Option<String>,
    pub logo_url: Option<String>,
    /// Exactly as registered: matching is character for character.
    pub redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub organization_id: Option<String>,
    /// RFC 7591 §2: the grant types the client may use at the token
    /// endpoint, in [`GrantType::ALL`]'s order.
    pub grant_types: Vec<GrantType>,
    /// OpenID Connect Dynamic Client Registration §2: the algorithm the
    /// client wants its ID tokens signed with; `None` for the configured one.
    pub id_token_signed_response_alg: Option<latchkey_verify::Alg>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Who registered the client.
    pub origin: ClientOrigin,
}

/// Where a client came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientOrigin {
    /// Registered by the platform's operator or its organizations' admins
    /// (the admin API, the CLI, the dashboard).
    #[default]
    Operator,
    /// Registered by itself at the registration endpoint (RFC 7591): not
    /// verified by the platform.
    Dynamic,
    /// Known by the URL of its Client ID Metadata Document, fetched by the
    /// server: not verified by the platform.
    MetadataDocument,
}

impl ClientOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Dynamic => "dynamic",
            Self::MetadataDocument => "metadata_document",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "operator" => Some(Self::Operator),
            "dynamic" => Some(Self::Dynamic),
            "metadata_document" => Some(Self::MetadataDocument),
            _ => None,
        }
    }

    /// Whether the platform vouches for the client (the consent screen
    /// says so when it does not).
    pub fn is_verified(self) -> bool {
        self == Self::Operator
    }
}

/// Where a requested scope of a client stands while it is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeReviewStatus {
    /// Awaiting the platform operator's decision.
    Pending,
    /// Refused by the operator, with a reason.
    Denied,
}

impl ScopeReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// A scope a client asked for that is not (yet) among its allowed scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeReviewRecord {
    pub client_id: String,
    pub scope: String,
    pub status: ScopeReviewStatus,
    /// Why the operator denied it; `None` while pending.
    pub reason: Option<String>,
    pub requested_at: i64,
    pub decided_at: Option<i64>,
}

/// A scope review as the operator's list shows it, with its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeReviewListing {
    pub review: ScopeReviewRecord,
    pub client_name: String,
    pub organization_id: Option<String>,
    pub organization_name: Option<String>,
}

/// OAuth clients and the reviews of the scopes they asked for.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Fails with `Conflict` when the client id exists.
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// The clients an organization owns, oldest first.
    async fn list_organization_clients(&self, organization_id: &str)
    -> Result<Vec<ClientRecord>, StoreError>;
    /// Writes the descriptive fields (name, description, URLs, redirect
    /// URIs, scopes, ID token algorithm, owning organization, grant types,
    /// `updated_at`); never the secret, the enabled flag or the
    /// authentication method.
    async fn update_client_details(&self, client: &ClientRecord) -> Result<bool, StoreError>;
    /// Replaces the secret digest: the old secret stops working at once.
    async fn set_client_secret(
        &self,
        client_id: &str,
        digest: &TokenDigest,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Disabling is one transaction that also revokes every grant of the
    /// client (user grants with their refresh tokens, and client_credentials
    /// grants); enabling revives none.
    async fn set_client_enabled(&self, client_id: &str, enabled: bool, now: i64) -> Result<bool, StoreError>;
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;
    /// Inserts a client with the reviews of the scopes it asked for that
    /// are not allowed yet, in one transaction: both or neither. Fails
    /// with `Conflict` when the client id exists.
    async fn insert_client_with_reviews(
        &self,
        client: &ClientRecord,
        reviews: &[ScopeReviewRecord],
    ) -> Result<(), StoreError>;
    /// Writes the descriptive fields as [`ClientStore::update_client_details`]
    /// and replaces the client's scope reviews with `reviews`, in one
    /// transaction; `false` (and nothing changed) when there is no such
    /// client.
    async fn update_client_with_reviews(
        &self,
        client: &ClientRecord,
        reviews: &[ScopeReviewRecord],
    ) -> Result<bool, StoreError>;
    async fn find_scope_review(
        &self,
        client_id: &str,
        scope: &str,
    ) -> Result<Option<ScopeReviewRecord>, StoreError>;
    /// A client's scope reviews, in the order they were requested.
    async fn list_client_scope_reviews(&self, client_id: &str) -> Result<Vec<ScopeReviewRecord>, StoreError>;
    /// Every client's reviews in one status, oldest request first.
    async fn list_scope_reviews(
        &self,
        status: ScopeReviewStatus,
    ) -> Result<Vec<ScopeReviewListing>, StoreError>;
    /// Approves a reviewed scope in one transaction: deletes its review
    /// and writes the client's allowed scopes (`allowed_scopes`, which
    /// include it). `false` (and nothing changed) when the client has no
    /// review of that scope; of concurrent callers, exactly one gets `true`.
    async fn approve_scope(
        &self,
        client_id: &str,
        scope: &str,
        allowed_scopes: &[String],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Marks a reviewed scope denied with its reason; `false` when the
    /// client has no review of that scope.
    async fn deny_scope(
        &self,
        client_id: &str,
        scope: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
}

pub(super) fn client<R: SqlRow>(row: &R) -> Result<ClientRecord, StoreError> {
    let secret_digest: Option<Vec<u8>> = row.read("secret_digest")?;
    let secret_digest = match secret_digest {
        None => None,
        Some(_) => Some(digest_column(row, "secret_digest")?),
    };
    let alg: Option<String> = row.read("id_token_signed_response_alg")?;
    let id_token_signed_response_alg = match alg {
        None => None,
        Some(name) => Some(Alg::parse(&name).ok_or_else(|| {
            backend(std::io::Error::other(format!(
                "unknown ID token algorithm `{name}`"
            )))
        })?),
    };
    let origin: String = row.read("origin")?;
    let origin = ClientOrigin::parse(&origin)
        .ok_or_else(|| backend(std::io::Error::other(format!("unknown client origin `{origin}`"))))?;
    let grant_types = json_list(row, "grant_types")?
        .iter()
        .map(|name| {
            GrantType::parse(name)
                .ok_or_else(|| backend(std::io::Error::other(format!("unknown grant type `{name}`"))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ClientRecord {
        client_id: row.read("client_id")?,
        secret_digest,
        name: row.read("name")?,
        description: row.read("description")?,
        homepage_url: row.read("homepage_url")?,
        logo_url: row.read("logo_url")?,
        redirect_uris: json_list(row, "redirect_uris")?,
        allowed_scopes: json_list(row, "allowed_scopes")?,
        token_endpoint_auth_method: row.read("token_endpoint_auth_method")?,
        organization_id: row.read("organization_id")?,
        grant_types,
        id_token_signed_response_alg,
        enabled: row.read("enabled")?,
        created_at: row.read("created_at")?,
        updated_at: row.read("updated_at")?,
        origin,
    })
}

/// The client's grant types as stored: a JSON list of their names.
/// A client row's columns, `$1`–`$16` (shared by every way a client is
/// stored).
pub(crate) const INSERT_CLIENT: &str = "INSERT INTO clients (client_id, secret_digest, name, description, homepage_url, \
     logo_url, redirect_uris, allowed_scopes, token_endpoint_auth_method, organization_id, enabled, created_at, \
     updated_at, id_token_signed_response_alg, origin, grant_types) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";

/// [`INSERT_CLIENT`] that leaves an existing row with the same id as it is.
pub(crate) const INSERT_CLIENT_IF_NEW: &str = "INSERT INTO clients (client_id, secret_digest, name, description, homepage_url, \
     logo_url, redirect_uris, allowed_scopes, token_endpoint_auth_method, organization_id, enabled, created_at, \
     updated_at, id_token_signed_response_alg, origin, grant_types) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
     ON CONFLICT (client_id) DO NOTHING";

pub(super) fn grant_types_json(client: &ClientRecord) -> Result<String, StoreError> {
    let names: Vec<String> = client.grant_types.iter().map(|g| g.as_str().to_owned()).collect();
    super::sql::to_json_list(&names)
}

pub(super) fn scope_review<R: SqlRow>(row: &R) -> Result<ScopeReviewRecord, StoreError> {
    let status: String = row.read("status")?;
    let status = ScopeReviewStatus::parse(&status).ok_or_else(|| {
        backend(std::io::Error::other(format!(
            "unknown scope review status `{status}`"
        )))
    })?;
    Ok(ScopeReviewRecord {
        client_id: row.read("client_id")?,
        scope: row.read("scope")?,
        status,
        reason: row.read("reason")?,
        requested_at: row.read("requested_at")?,
        decided_at: row.read("decided_at")?,
    })
}

pub(super) fn scope_review_listing<R: SqlRow>(row: &R) -> Result<ScopeReviewListing, StoreError> {
    Ok(ScopeReviewListing {
        review: scope_review(row)?,
        client_name: row.read("client_name")?,
        organization_id: row.read("organization_id")?,
        organization_name: row.read("organization_name")?,
    })
}

/// Implements [`ClientStore`] for `$store` (a struct with a `pool: sqlx::Pool<$db>`,
/// and a `hot()` returning its [`HotPath`](super::hot::HotPath)).
macro_rules! impl_client_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use latchkey_verify::Alg;
            use $crate::secret::TokenDigest;
            use $crate::store::clients::{client, grant_types_json, scope_review, scope_review_listing};
            use $crate::store::sql::{all, changed, changed_ref, to_json_list};
            use $crate::store::{
                ClientRecord, ClientStore, ScopeReviewListing, ScopeReviewRecord, ScopeReviewStatus, StoreError,
                map_sqlx,
            };

            #[async_trait]
            impl ClientStore for $store {
                async fn insert_client(&self, c: &ClientRecord) -> Result<(), StoreError> {
                    let mut connection = self.pool.acquire().await.map_err(map_sqlx)?;
                    <$store>::insert_client_row(&mut connection, c).await
                }

                async fn insert_client_with_reviews(
                    &self,
                    c: &ClientRecord,
                    reviews: &[ScopeReviewRecord],
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    <$store>::insert_client_row(&mut tx, c).await?;
                    for review in reviews {
                        insert_scope_review(&mut tx, review).await?;
                    }
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_client(self.hot(), client_id).await
                }

                async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT client_id, secret_digest, name, description, homepage_url, logo_url, \
                         redirect_uris, allowed_scopes, token_endpoint_auth_method, organization_id, \
                         id_token_signed_response_alg, grant_types, enabled, created_at, updated_at, origin FROM clients ORDER BY created_at, client_id",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, client)
                }

                async fn list_organization_clients(&self, organization_id: &str) -> Result<Vec<ClientRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT client_id, secret_digest, name, description, homepage_url, logo_url, \
                         redirect_uris, allowed_scopes, token_endpoint_auth_method, organization_id, \
                         id_token_signed_response_alg, grant_types, enabled, created_at, updated_at, origin FROM clients WHERE organization_id = $1 \
                         ORDER BY created_at, client_id",
                    )
                    .bind(organization_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, client)
                }

                async fn update_client_details(&self, c: &ClientRecord) -> Result<bool, StoreError> {
                    let mut connection = self.pool.acquire().await.map_err(map_sqlx)?;
                    <$store>::update_client_row(&mut connection, c).await
                }

                async fn update_client_with_reviews(
                    &self,
                    c: &ClientRecord,
                    reviews: &[ScopeReviewRecord],
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    if !<$store>::update_client_row(&mut tx, c).await? {
                        return Ok(false);
                    }
                    sqlx::query("DELETE FROM client_scope_reviews WHERE client_id = $1")
                        .bind(&c.client_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    for review in reviews {
                        insert_scope_review(&mut tx, review).await?;
                    }
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(true)
                }

                async fn find_scope_review(
                    &self,
                    client_id: &str,
                    scope: &str,
                ) -> Result<Option<ScopeReviewRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT client_id, scope, status, reason, requested_at, decided_at \
                         FROM client_scope_reviews WHERE client_id = $1 AND scope = $2",
                    )
                    .bind(client_id)
                    .bind(scope)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(scope_review).transpose()
                }

                async fn list_client_scope_reviews(&self, client_id: &str) -> Result<Vec<ScopeReviewRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT client_id, scope, status, reason, requested_at, decided_at \
                         FROM client_scope_reviews WHERE client_id = $1 ORDER BY requested_at, scope",
                    )
                    .bind(client_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, scope_review)
                }

                async fn list_scope_reviews(
                    &self,
                    status: ScopeReviewStatus,
                ) -> Result<Vec<ScopeReviewListing>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT r.client_id, r.scope, r.status, r.reason, r.requested_at, r.decided_at, \
                         c.name AS client_name, c.organization_id, o.name AS organization_name \
                         FROM client_scope_reviews r JOIN clients c ON c.client_id = r.client_id \
                         LEFT JOIN organizations o ON o.id = c.organization_id \
                         WHERE r.status = $1 ORDER BY r.requested_at, r.client_id, r.scope",
                    )
                    .bind(status.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, scope_review_listing)
                }

                async fn approve_scope(
                    &self,
                    client_id: &str,
                    scope: &str,
                    allowed_scopes: &[String],
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    let deleted = sqlx::query("DELETE FROM client_scope_reviews WHERE client_id = $1 AND scope = $2")
                        .bind(client_id)
                        .bind(scope)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    if !changed_ref(&deleted) {
                        return Ok(false);
                    }
                    sqlx::query("UPDATE clients SET allowed_scopes = $1, updated_at = $2 WHERE client_id = $3")
                        .bind(to_json_list(allowed_scopes)?)
                        .bind(now)
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(true)
                }

                async fn deny_scope(
                    &self,
                    client_id: &str,
                    scope: &str,
                    reason: &str,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE client_scope_reviews SET status = $1, reason = $2, decided_at = $3 \
                         WHERE client_id = $4 AND scope = $5",
                    )
                    .bind(ScopeReviewStatus::Denied.as_str())
                    .bind(reason)
                    .bind(now)
                    .bind(client_id)
                    .bind(scope)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn set_client_secret(
                    &self,
                    client_id: &str,
                    digest: &TokenDigest,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE clients SET secret_digest = $1, updated_at = $2 WHERE client_id = $3",
                    )
                    .bind(digest.0.to_vec())
                    .bind(now)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn set_client_enabled(
                    &self,
                    client_id: &str,
                    enabled: bool,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    let result = sqlx::query(
                        "UPDATE clients SET enabled = $1, updated_at = $2 WHERE client_id = $3",
                    )
                    .bind(enabled)
                    .bind(now)
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    if !enabled && changed_ref(&result) {
                        sqlx::query(
                            "DELETE FROM refresh_tokens WHERE grant_id IN \
                             (SELECT id FROM grants WHERE client_id = $1)",
                        )
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL")
                            .bind(now)
                            .bind(client_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx)?;
                        sqlx::query(
                            "UPDATE client_credentials_grants SET revoked_at = $1 \
                             WHERE client_id = $2 AND revoked_at IS NULL",
                        )
                        .bind(now)
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    }
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
                    let result = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                        .bind(client_id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(result))
                }
            }

            impl $store {
                /// Inserts a client row; the registration area shares it.
                pub(crate) async fn insert_client_row(
                    connection: &mut <$db as sqlx::Database>::Connection,
                    c: &ClientRecord,
                ) -> Result<(), StoreError> {
                    <$store>::insert_client_row_as(connection, c, $crate::store::clients::INSERT_CLIENT).await.map(|_| ())
                }

                /// Inserts a client row unless one with its id exists; whether
                /// it did. The metadata-document area shares it.
                pub(crate) async fn insert_client_row_if_new(
                    connection: &mut <$db as sqlx::Database>::Connection,
                    c: &ClientRecord,
                ) -> Result<bool, StoreError> {
                    <$store>::insert_client_row_as(connection, c, $crate::store::clients::INSERT_CLIENT_IF_NEW).await
                }

                async fn insert_client_row_as(
                    connection: &mut <$db as sqlx::Database>::Connection,
                    c: &ClientRecord,
                    sql: &'static str,
                ) -> Result<bool, StoreError> {
                    let inserted = sqlx::query(sql)
                    .bind(&c.client_id)
                    .bind(c.secret_digest.map(|d| d.0.to_vec()))
                    .bind(&c.name)
                    .bind(&c.description)
                    .bind(&c.homepage_url)
                    .bind(&c.logo_url)
                    .bind(to_json_list(&c.redirect_uris)?)
                    .bind(to_json_list(&c.allowed_scopes)?)
                    .bind(&c.token_endpoint_auth_method)
                    .bind(&c.organization_id)
                    .bind(c.enabled)
                    .bind(c.created_at)
                    .bind(c.updated_at)
                    .bind(c.id_token_signed_response_alg.map(Alg::as_str))
                    .bind(c.origin.as_str())
                    .bind(grant_types_json(c)?)
                    .execute(connection)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(inserted))
                }

                /// Writes a client's descriptive fields; the registration area
                /// shares it.
                pub(crate) async fn update_client_row(
                    connection: &mut <$db as sqlx::Database>::Connection,
                    c: &ClientRecord,
                ) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE clients SET name = $1, description = $2, homepage_url = $3, logo_url = $4, \
                         redirect_uris = $5, allowed_scopes = $6, updated_at = $7, \
                         id_token_signed_response_alg = $8, organization_id = $9, grant_types = $10 \
                         WHERE client_id = $11",
                    )
                    .bind(&c.name)
                    .bind(&c.description)
                    .bind(&c.homepage_url)
                    .bind(&c.logo_url)
                    .bind(to_json_list(&c.redirect_uris)?)
                    .bind(to_json_list(&c.allowed_scopes)?)
                    .bind(c.updated_at)
                    .bind(c.id_token_signed_response_alg.map(Alg::as_str))
                    .bind(&c.organization_id)
                    .bind(grant_types_json(c)?)
                    .bind(&c.client_id)
                    .execute(connection)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }
            }

            async fn insert_scope_review(
                connection: &mut <$db as sqlx::Database>::Connection,
                r: &ScopeReviewRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO client_scope_reviews (client_id, scope, status, reason, requested_at, \
                     decided_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&r.client_id)
                .bind(&r.scope)
                .bind(r.status.as_str())
                .bind(&r.reason)
                .bind(r.requested_at)
                .bind(r.decided_at)
                .execute(connection)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }
        };
    };
}

pub(crate) use impl_client_store;
