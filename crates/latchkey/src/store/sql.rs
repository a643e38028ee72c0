//! The query text and row mapping of every [`Store`](super::Store) method,
//! written once and expanded for each backend by [`impl_store!`]. The SQL
//! is the common subset of SQLite and PostgreSQL, with `$n` placeholders
//! (which both drivers accept); dialect differences live in the migrations.

/// Implements `Store` for `$store` (a struct with a `pool: sqlx::Pool<$db>`).
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        use async_trait::async_trait;
        use sqlx::Row as _;

        use $crate::secret::TokenDigest;
        use latchkey_verify::Alg;
        use $crate::store::{
            AdminKeyRecord, ApiKeyRecord, AuditEvent, CaseRecord, CustomerRecord, InvoiceRecord, PageRequest, AuthorizationCodeRecord, ClientRecord, CodeExchange,
            ConnectedApp, GrantRecord, PurgeCounts,
            MembershipRecord, OrganizationRecord, RefreshTokenRecord, ScopeReviewListing, ScopeReviewRecord,
            ScopeReviewStatus, SessionRecord, SigningKeyRecord, Store, StoreError, UserRecord, backend, map_sqlx,
        };

        type DbRow = <$db as sqlx::Database>::Row;

        fn digest_column(row: &DbRow, column: &str) -> Result<TokenDigest, StoreError> {
            let bytes: Vec<u8> = row.try_get(column).map_err(map_sqlx)?;
            TokenDigest::from_slice(&bytes).ok_or_else(|| {
                backend(std::io::Error::other(format!("column {column} is not a 32-byte digest")))
            })
        }

        fn json_list(row: &DbRow, column: &str) -> Result<Vec<String>, StoreError> {
            let text: String = row.try_get(column).map_err(map_sqlx)?;
            serde_json::from_str(&text).map_err(backend)
        }

        fn to_json_list(list: &[String]) -> Result<String, StoreError> {
            serde_json::to_string(list).map_err(backend)
        }

        fn signing_key(row: &DbRow) -> Result<SigningKeyRecord, StoreError> {
            Ok(SigningKeyRecord {
                kid: row.try_get("kid").map_err(map_sqlx)?,
                alg: row.try_get("alg").map_err(map_sqlx)?,
                private_key_sealed: row.try_get("private_key_sealed").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                activates_at: row.try_get("activates_at").map_err(map_sqlx)?,
                retired_at: row.try_get("retired_at").map_err(map_sqlx)?,
            })
        }

        fn client(row: &DbRow) -> Result<ClientRecord, StoreError> {
            let secret_digest: Option<Vec<u8>> = row.try_get("secret_digest").map_err(map_sqlx)?;
            let secret_digest = match secret_digest {
                None => None,
                Some(_) => Some(digest_column(row, "secret_digest")?),
            };
            let alg: Option<String> = row.try_get("id_token_signed_response_alg").map_err(map_sqlx)?;
            let id_token_signed_response_alg = match alg {
                None => None,
                Some(name) => Some(Alg::parse(&name).ok_or_else(|| {
                    backend(std::io::Error::other(format!("unknown ID token algorithm `{name}`")))
                })?),
            };
            Ok(ClientRecord {
                client_id: row.try_get("client_id").map_err(map_sqlx)?,
                secret_digest,
                name: row.try_get("name").map_err(map_sqlx)?,
                description: row.try_get("description").map_err(map_sqlx)?,
                homepage_url: row.try_get("homepage_url").map_err(map_sqlx)?,
                logo_url: row.try_get("logo_url").map_err(map_sqlx)?,
                redirect_uris: json_list(row, "redirect_uris")?,
                allowed_scopes: json_list(row, "allowed_scopes")?,
                token_endpoint_auth_method: row
                    .try_get("token_endpoint_auth_method")
                    .map_err(map_sqlx)?,
                organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                id_token_signed_response_alg,
                enabled: row.try_get("enabled").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                updated_at: row.try_get("updated_at").map_err(map_sqlx)?,
            })
        }

        fn scope_review(row: &DbRow) -> Result<ScopeReviewRecord, StoreError> {
            let status: String = row.try_get("status").map_err(map_sqlx)?;
            let status = ScopeReviewStatus::parse(&status).ok_or_else(|| {
                backend(std::io::Error::other(format!("unknown scope review status `{status}`")))
            })?;
            Ok(ScopeReviewRecord {
                client_id: row.try_get("client_id").map_err(map_sqlx)?,
                scope: row.try_get("scope").map_err(map_sqlx)?,
                status,
                reason: row.try_get("reason").map_err(map_sqlx)?,
                requested_at: row.try_get("requested_at").map_err(map_sqlx)?,
                decided_at: row.try_get("decided_at").map_err(map_sqlx)?,
            })
        }

        fn user(row: &DbRow) -> Result<UserRecord, StoreError> {
            Ok(UserRecord {
                id: row.try_get("id").map_err(map_sqlx)?,
                email: row.try_get("email").map_err(map_sqlx)?,
                name: row.try_get("name").map_err(map_sqlx)?,
                email_verified: row.try_get("email_verified").map_err(map_sqlx)?,
                password_hash: row.try_get("password_hash").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                updated_at: row.try_get("updated_at").map_err(map_sqlx)?,
            })
        }

        fn organization(row: &DbRow) -> Result<OrganizationRecord, StoreError> {
            Ok(OrganizationRecord {
                id: row.try_get("id").map_err(map_sqlx)?,
                name: row.try_get("name").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
            })
        }

        fn membership(row: &DbRow) -> Result<MembershipRecord, StoreError> {
            Ok(MembershipRecord {
                organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                user_id: row.try_get("user_id").map_err(map_sqlx)?,
                role: row.try_get("role").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
            })
        }

        fn admin_key(row: &DbRow) -> Result<AdminKeyRecord, StoreError> {
            Ok(AdminKeyRecord {
                id: row.try_get("id").map_err(map_sqlx)?,
                name: row.try_get("name").map_err(map_sqlx)?,
                key_digest: digest_column(row, "key_digest")?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
            })
        }

        fn api_key(row: &DbRow) -> Result<ApiKeyRecord, StoreError> {
            Ok(ApiKeyRecord {
                id: row.try_get("id").map_err(map_sqlx)?,
                organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                name: row.try_get("name").map_err(map_sqlx)?,
                scopes: json_list(row, "scopes")?,
                key_digest: digest_column(row, "key_digest")?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                last_used_at: row.try_get("last_used_at").map_err(map_sqlx)?,
                revoked_at: row.try_get("revoked_at").map_err(map_sqlx)?,
            })
        }

        fn case(row: &DbRow) -> Result<CaseRecord, StoreError> {
            Ok(CaseRecord {
                id: row.try_get("id").map_err(map_sqlx)?,
                organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                title: row.try_get("title").map_err(map_sqlx)?,
                status: row.try_get("status").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
            })
        }

        fn customer(row: &DbRow) -> Result<CustomerRecord, StoreError> {
            Ok(CustomerRecord {
                id: row.try_get("id").map_err(map_sqlx)?,
                organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                name: row.try_get("name").map_err(map_sqlx)?,
                email: row.try_get("email").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
            })
        }

        fn all<T>(rows: Vec<DbRow>, map: fn(&DbRow) -> Result<T, StoreError>) -> Result<Vec<T>, StoreError> {
            rows.iter().map(map).collect()
        }

        fn changed(result: <$db as sqlx::Database>::QueryResult) -> bool {
            result.rows_affected() > 0
        }

        fn changed_ref(result: &<$db as sqlx::Database>::QueryResult) -> bool {
            result.rows_affected() > 0
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_sqlx)?;
                Ok(())
            }

            fn pool_connections(&self) -> (u64, u64) {
                let idle = u64::try_from(self.pool.num_idle()).unwrap_or(u64::MAX);
                (u64::from(self.pool.size()), idle)
            }

            async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, private_key_sealed, created_at, activates_at, retired_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.private_key_sealed)
                .bind(key.created_at)
                .bind(key.activates_at)
                .bind(key.retired_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT kid, alg, private_key_sealed, created_at, activates_at, retired_at \
                     FROM signing_keys ORDER BY created_at, kid",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                all(rows, signing_key)
            }

            async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<bool, StoreError> {
                let result = sqlx::query(
                    "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
                )
                .bind(now)
                .bind(kid)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(changed(result))
            }

            async fn insert_client(&self, c: &ClientRecord) -> Result<(), StoreError> {
                let mut connection = self.pool.acquire().await.map_err(map_sqlx)?;
                insert_client_row(&mut connection, c).await
            }

            async fn insert_client_with_reviews(
                &self,
                c: &ClientRecord,
                reviews: &[ScopeReviewRecord],
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                insert_client_row(&mut tx, c).await?;
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
                     id_token_signed_response_alg, enabled, created_at, updated_at FROM clients ORDER BY created_at, client_id",
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
                     id_token_signed_response_alg, enabled, created_at, updated_at FROM clients WHERE organization_id = $1 \
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
                update_client_row(&mut connection, c).await
            }

            async fn update_client_with_reviews(
                &self,
                c: &ClientRecord,
                reviews: &[ScopeReviewRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                if !update_client_row(&mut tx, c).await? {
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
                all(rows, |row| {
                    Ok(ScopeReviewListing {
                        review: scope_review(row)?,
                        client_name: row.try_get("client_name").map_err(map_sqlx)?,
                        organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                        organization_name: row.try_get("organization_name").map_err(map_sqlx)?,
                    })
                })
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

            async fn insert_user(&self, u: &UserRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO users (id, email, email_normalized, name, email_verified, password_hash, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&u.id)
                .bind(&u.email)
                .bind(u.email.to_lowercase())
                .bind(&u.name)
                .bind(u.email_verified)
                .bind(&u.password_hash)
                .bind(u.created_at)
                .bind(u.updated_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
                $crate::store::hot::HotPath::find_user(self.hot(), id).await
            }

            async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, email, name, email_verified, password_hash, created_at, updated_at \
                     FROM users WHERE email_normalized = $1",
                )
                .bind(email.to_lowercase())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(user).transpose()
            }

            async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, email, name, email_verified, password_hash, created_at, updated_at \
                     FROM users ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                all(rows, user)
            }

            async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
                let result = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                Ok(changed(result))
            }

            async fn insert_organization(&self, o: &OrganizationRecord) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(&o.id)
                    .bind(&o.name)
                    .bind(o.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                Ok(())
            }

            async fn find_organization(&self, id: &str) -> Result<Option<OrganizationRecord>, StoreError> {
                $crate::store::hot::HotPath::find_organization(self.hot(), id).await
            }

            async fn list_organizations(&self) -> Result<Vec<OrganizationRecord>, StoreError> {
                let rows = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                all(rows, organization)
            }

            async fn delete_organization(&self, id: &str) -> Result<bool, StoreError> {
                let result = sqlx::query("DELETE FROM organizations WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                Ok(changed(result))
            }

            async fn upsert_membership(&self, m: &MembershipRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO memberships (organization_id, user_id, role, created_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role",
                )
                .bind(&m.organization_id)
                .bind(&m.user_id)
                .bind(&m.role)
                .bind(m.created_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn list_members(&self, organization_id: &str) -> Result<Vec<MembershipRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT organization_id, user_id, role, created_at FROM memberships \
                     WHERE organization_id = $1 ORDER BY created_at, user_id",
                )
                .bind(organization_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                all(rows, membership)
            }

            async fn list_memberships(&self, user_id: &str) -> Result<Vec<MembershipRecord>, StoreError> {
                $crate::store::hot::HotPath::list_memberships(self.hot(), user_id).await
            }

            async fn find_subject(
                &self,
                user_id: &str,
                organization_id: &str,
            ) -> Result<Option<$crate::store::SubjectRecord>, StoreError> {
                $crate::store::hot::HotPath::find_subject(self.hot(), user_id, organization_id).await
            }

            async fn delete_membership(&self, organization_id: &str, user_id: &str) -> Result<bool, StoreError> {
                let result = sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
                    .bind(organization_id)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                Ok(changed(result))
            }

            async fn insert_admin_key(&self, k: &AdminKeyRecord) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO admin_api_keys (id, name, key_digest, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&k.id)
                    .bind(&k.name)
                    .bind(k.key_digest.0.to_vec())
                    .bind(k.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                Ok(())
            }

            async fn find_admin_key(&self, digest: &TokenDigest) -> Result<Option<AdminKeyRecord>, StoreError> {
                let row = sqlx::query("SELECT id, name, key_digest, created_at FROM admin_api_keys WHERE key_digest = $1")
                    .bind(digest.0.to_vec())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                row.as_ref().map(admin_key).transpose()
            }

            async fn list_admin_keys(&self) -> Result<Vec<AdminKeyRecord>, StoreError> {
                let rows = sqlx::query("SELECT id, name, key_digest, created_at FROM admin_api_keys ORDER BY created_at, id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                all(rows, admin_key)
            }

            async fn delete_admin_key(&self, id: &str) -> Result<bool, StoreError> {
                let result = sqlx::query("DELETE FROM admin_api_keys WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                Ok(changed(result))
            }
            async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO sessions (id_digest, user_id, auth_time, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(s.id_digest.0.to_vec())
                .bind(&s.user_id)
                .bind(s.auth_time)
                .bind(s.created_at)
                .bind(s.expires_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn find_session(&self, id_digest: &TokenDigest) -> Result<Option<SessionRecord>, StoreError> {
                $crate::store::hot::HotPath::find_session(self.hot(), id_digest).await
            }

            async fn delete_session(&self, id_digest: &TokenDigest) -> Result<bool, StoreError> {
                let result = sqlx::query("DELETE FROM sessions WHERE id_digest = $1")
                    .bind(id_digest.0.to_vec())
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                Ok(changed(result))
            }

            async fn find_consent(
                &self,
                user_id: &str,
                organization_id: &str,
                client_id: &str,
            ) -> Result<Option<Vec<String>>, StoreError> {
                $crate::store::hot::HotPath::find_consent(self.hot(), user_id, organization_id, client_id).await
            }

            async fn list_client_consents(
                &self,
                user_id: &str,
                client_id: &str,
            ) -> Result<Vec<(String, Vec<String>, i64)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT k.organization_id, k.scopes, k.updated_at FROM consents k \
                     JOIN organizations o ON o.id = k.organization_id \
                     WHERE k.user_id = $1 AND k.client_id = $2 ORDER BY k.updated_at DESC, o.name",
                )
                .bind(user_id)
                .bind(client_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                rows.iter()
                    .map(|row| {
                        Ok((
                            row.try_get("organization_id").map_err(map_sqlx)?,
                            json_list(row, "scopes")?,
                            row.try_get("updated_at").map_err(map_sqlx)?,
                        ))
                    })
                    .collect()
            }

            async fn upsert_consent(
                &self,
                user_id: &str,
                organization_id: &str,
                client_id: &str,
                scopes: &[String],
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO consents (user_id, organization_id, client_id, scopes, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) \
                     ON CONFLICT (user_id, organization_id, client_id) \
                     DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(organization_id)
                .bind(client_id)
                .bind(to_json_list(scopes)?)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn insert_authorization_code(&self, c: &AuthorizationCodeRecord) -> Result<(), StoreError> {
                $crate::store::hot::HotPath::insert_authorization_code(self.hot(), c).await
            }

            async fn find_authorization_code(
                &self,
                code_digest: &TokenDigest,
            ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
                $crate::store::hot::HotPath::find_authorization_code(self.hot(), code_digest).await
            }

            async fn exchange_authorization_code(
                &self,
                code_digest: &TokenDigest,
                g: &GrantRecord,
                refresh: Option<&RefreshTokenRecord>,
                now: i64,
            ) -> Result<CodeExchange, StoreError> {
                $crate::store::hot::HotPath::exchange_authorization_code(self.hot(), code_digest, g, refresh, now).await
            }

            async fn find_grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
                $crate::store::hot::HotPath::find_grant(self.hot(), id).await
            }

            async fn access_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError> {
                $crate::store::hot::HotPath::access_token_is_live(self.hot(), grant_id, jti).await
            }

            async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                let result = sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(grant_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                sqlx::query("DELETE FROM refresh_tokens WHERE grant_id = $1")
                    .bind(grant_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                tx.commit().await.map_err(map_sqlx)?;
                Ok(changed(result))
            }

            async fn revoke_access_token(
                &self,
                jti: &str,
                grant_id: &str,
                expires_at: i64,
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO revoked_access_tokens (jti, grant_id, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(grant_id)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
                $crate::store::hot::HotPath::insert_refresh_token(self.hot(), token).await
            }

            async fn list_connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>, StoreError> {
                let rows = sqlx::query(
                    "SELECT k.client_id, c.name AS client_name, c.logo_url, k.organization_id, \
                     o.name AS organization_name, k.scopes, k.created_at, k.updated_at, \
                     (SELECT MAX(g.created_at) FROM grants g WHERE g.user_id = k.user_id \
                      AND g.organization_id = k.organization_id AND g.client_id = k.client_id) AS last_grant, \
                     (SELECT MAX(r.created_at) FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
                      WHERE g.user_id = k.user_id AND g.organization_id = k.organization_id \
                      AND g.client_id = k.client_id) AS last_refresh \
                     FROM consents k JOIN clients c ON c.client_id = k.client_id \
                     JOIN organizations o ON o.id = k.organization_id \
                     WHERE k.user_id = $1 ORDER BY o.name, c.name, k.client_id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                rows.iter()
                    .map(|row| {
                        Ok(ConnectedApp {
                            client_id: row.try_get("client_id").map_err(map_sqlx)?,
                            client_name: row.try_get("client_name").map_err(map_sqlx)?,
                            client_logo_url: row.try_get("logo_url").map_err(map_sqlx)?,
                            organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                            organization_name: row.try_get("organization_name").map_err(map_sqlx)?,
                            scopes: json_list(row, "scopes")?,
                            granted_at: row.try_get("created_at").map_err(map_sqlx)?,
                            updated_at: row.try_get("updated_at").map_err(map_sqlx)?,
                            last_used_at: {
                                let grant: Option<i64> = row.try_get("last_grant").map_err(map_sqlx)?;
                                let refresh: Option<i64> = row.try_get("last_refresh").map_err(map_sqlx)?;
                                grant.max(refresh)
                            },
                        })
                    })
                    .collect()
            }

            async fn revoke_connected_app(
                &self,
                user_id: &str,
                organization_id: &str,
                client_id: &str,
                now: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                let consent = sqlx::query(
                    "DELETE FROM consents WHERE user_id = $1 AND organization_id = $2 AND client_id = $3",
                )
                .bind(user_id)
                .bind(organization_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
                sqlx::query(
                    "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants \
                     WHERE user_id = $1 AND organization_id = $2 AND client_id = $3)",
                )
                .bind(user_id)
                .bind(organization_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
                let grants = sqlx::query(
                    "UPDATE grants SET revoked_at = $1 WHERE user_id = $2 AND organization_id = $3 \
                     AND client_id = $4 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(user_id)
                .bind(organization_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
                tx.commit().await.map_err(map_sqlx)?;
                Ok(changed_ref(&consent) || changed(grants))
            }

            async fn insert_audit_event(&self, e: &AuditEvent) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_events (id, occurred_at, actor, action, client_id, user_id, \
                     organization_id, grant_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&e.id)
                .bind(e.occurred_at)
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.client_id)
                .bind(&e.user_id)
                .bind(&e.organization_id)
                .bind(&e.grant_id)
                .bind(e.details.to_string())
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn list_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, occurred_at, actor, action, client_id, user_id, organization_id, grant_id, \
                     details FROM audit_events ORDER BY occurred_at DESC, id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                rows.iter()
                    .map(|row| {
                        let details: String = row.try_get("details").map_err(map_sqlx)?;
                        Ok(AuditEvent {
                            id: row.try_get("id").map_err(map_sqlx)?,
                            occurred_at: row.try_get("occurred_at").map_err(map_sqlx)?,
                            actor: row.try_get("actor").map_err(map_sqlx)?,
                            action: row.try_get("action").map_err(map_sqlx)?,
                            client_id: row.try_get("client_id").map_err(map_sqlx)?,
                            user_id: row.try_get("user_id").map_err(map_sqlx)?,
                            organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                            grant_id: row.try_get("grant_id").map_err(map_sqlx)?,
                            details: serde_json::from_str(&details).map_err(backend)?,
                        })
                    })
                    .collect()
            }

            async fn insert_api_key(&self, k: &ApiKeyRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO api_keys (id, organization_id, name, scopes, key_digest, created_at, \
                     last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&k.id)
                .bind(&k.organization_id)
                .bind(&k.name)
                .bind(to_json_list(&k.scopes)?)
                .bind(k.key_digest.0.to_vec())
                .bind(k.created_at)
                .bind(k.last_used_at)
                .bind(k.revoked_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn find_api_key(&self, digest: &TokenDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
                $crate::store::hot::HotPath::find_api_key(self.hot(), digest).await
            }

            async fn list_api_keys(&self, organization_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, organization_id, name, scopes, key_digest, created_at, last_used_at, revoked_at \
                     FROM api_keys WHERE organization_id = $1 ORDER BY created_at, id",
                )
                .bind(organization_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                all(rows, api_key)
            }

            async fn revoke_api_key(&self, organization_id: &str, id: &str, now: i64) -> Result<bool, StoreError> {
                let result = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND organization_id = $3 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(id)
                .bind(organization_id)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(changed(result))
            }

            async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError> {
                $crate::store::hot::HotPath::touch_api_key(self.hot(), id, now).await
            }

            async fn list_cases(&self, organization_id: &str, page: PageRequest<'_>) -> Result<Vec<CaseRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, organization_id, title, status, created_at FROM cases \
                     WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind(organization_id)
                .bind(page.after.unwrap_or(""))
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                all(rows, case)
            }

            async fn find_case(&self, organization_id: &str, id: &str) -> Result<Option<CaseRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, organization_id, title, status, created_at FROM cases \
                     WHERE organization_id = $1 AND id = $2",
                )
                .bind(organization_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(case).transpose()
            }

            async fn insert_case(&self, c: &CaseRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO cases (id, organization_id, title, status, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&c.id)
                .bind(&c.organization_id)
                .bind(&c.title)
                .bind(&c.status)
                .bind(c.created_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn list_customers(
                &self,
                organization_id: &str,
                page: PageRequest<'_>,
            ) -> Result<Vec<CustomerRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, organization_id, name, email, created_at FROM customer_clients \
                     WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind(organization_id)
                .bind(page.after.unwrap_or(""))
                .bind(page.limit)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                all(rows, customer)
            }

            async fn find_customer(&self, organization_id: &str, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, organization_id, name, email, created_at FROM customer_clients \
                     WHERE organization_id = $1 AND id = $2",
                )
                .bind(organization_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(customer).transpose()
            }

            async fn insert_customer(&self, c: &CustomerRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO customer_clients (id, organization_id, name, email, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&c.id)
                .bind(&c.organization_id)
                .bind(&c.name)
                .bind(&c.email)
                .bind(c.created_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn insert_invoice(&self, i: &InvoiceRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO invoices (id, organization_id, client_id, amount_cents, currency, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&i.id)
                .bind(&i.organization_id)
                .bind(&i.client_id)
                .bind(i.amount_cents)
                .bind(&i.currency)
                .bind(i.created_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn purge_expired(
                &self,
                now: i64,
                grant_cutoff: i64,
                audit_cutoff: i64,
            ) -> Result<PurgeCounts, StoreError> {
                let run = |sql: &'static str, value: i64| {
                    let pool = &self.pool;
                    async move {
                        sqlx::query(sql)
                            .bind(value)
                            .execute(pool)
                            .await
                            .map(|r| r.rows_affected())
                            .map_err(map_sqlx)
                    }
                };
                Ok(PurgeCounts {
                    authorization_codes: run("DELETE FROM authorization_codes WHERE expires_at < $1", grant_cutoff).await?,
                    refresh_tokens: run("DELETE FROM refresh_tokens WHERE expires_at < $1", grant_cutoff).await?,
                    sessions: run("DELETE FROM sessions WHERE expires_at < $1", now).await?,
                    revoked_access_tokens: run("DELETE FROM revoked_access_tokens WHERE expires_at < $1", now).await?,
                    grants: run(
                        "DELETE FROM grants WHERE (revoked_at IS NOT NULL AND revoked_at < $1) \
                         OR (created_at < $1 AND NOT EXISTS \
                         (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.id))",
                        grant_cutoff,
                    )
                    .await?,
                    audit_events: run("DELETE FROM audit_events WHERE occurred_at < $1", audit_cutoff).await?,
                })
            }

            async fn find_refresh_token(
                &self,
                token_digest: &TokenDigest,
            ) -> Result<Option<RefreshTokenRecord>, StoreError> {
                $crate::store::hot::HotPath::find_refresh_token(self.hot(), token_digest).await
            }

            async fn rotate_refresh_token(
                &self,
                old: &TokenDigest,
                successor: &RefreshTokenRecord,
                now: i64,
            ) -> Result<bool, StoreError> {
                $crate::store::hot::HotPath::rotate_refresh_token(self.hot(), old, successor, now).await
            }
        }

        async fn insert_client_row(
            connection: &mut <$db as sqlx::Database>::Connection,
            c: &ClientRecord,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO clients (client_id, secret_digest, name, description, homepage_url, \
                 logo_url, redirect_uris, allowed_scopes, token_endpoint_auth_method, \
                 organization_id, enabled, created_at, updated_at, id_token_signed_response_alg) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
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
            .execute(connection)
            .await
            .map_err(map_sqlx)?;
            Ok(())
        }

        async fn update_client_row(
            connection: &mut <$db as sqlx::Database>::Connection,
            c: &ClientRecord,
        ) -> Result<bool, StoreError> {
            let result = sqlx::query(
                "UPDATE clients SET name = $1, description = $2, homepage_url = $3, logo_url = $4, \
                 redirect_uris = $5, allowed_scopes = $6, updated_at = $7, \
                 id_token_signed_response_alg = $8 WHERE client_id = $9",
            )
            .bind(&c.name)
            .bind(&c.description)
            .bind(&c.homepage_url)
            .bind(&c.logo_url)
            .bind(to_json_list(&c.redirect_uris)?)
            .bind(to_json_list(&c.allowed_scopes)?)
            .bind(c.updated_at)
            .bind(c.id_token_signed_response_alg.map(Alg::as_str))
            .bind(&c.client_id)
            .execute(connection)
            .await
            .map_err(map_sqlx)?;
            Ok(changed(result))
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
}

pub(crate) use impl_store;

/// Implements [`HotPath`](super::hot::HotPath) through the sqlx pool (the
/// PostgreSQL backend's); expanded after `impl_store!`, whose row mappers
/// it uses.
macro_rules! impl_hot_path {
    ($store:ty, $db:ty) => {
        use $crate::store::hot::{self, HotPath};

        fn session(row: &DbRow) -> Result<SessionRecord, StoreError> {
            Ok(SessionRecord {
                id_digest: digest_column(row, "id_digest")?,
                user_id: row.try_get("user_id").map_err(map_sqlx)?,
                auth_time: row.try_get("auth_time").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                expires_at: row.try_get("expires_at").map_err(map_sqlx)?,
            })
        }

        fn grant(row: &DbRow) -> Result<GrantRecord, StoreError> {
            Ok(GrantRecord {
                id: row.try_get("id").map_err(map_sqlx)?,
                client_id: row.try_get("client_id").map_err(map_sqlx)?,
                user_id: row.try_get("user_id").map_err(map_sqlx)?,
                organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                scopes: json_list(row, "scopes")?,
                auth_time: row.try_get("auth_time").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                revoked_at: row.try_get("revoked_at").map_err(map_sqlx)?,
            })
        }

        fn authorization_code(row: &DbRow) -> Result<AuthorizationCodeRecord, StoreError> {
            Ok(AuthorizationCodeRecord {
                code_digest: digest_column(row, "code_digest")?,
                client_id: row.try_get("client_id").map_err(map_sqlx)?,
                user_id: row.try_get("user_id").map_err(map_sqlx)?,
                organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                redirect_uri: row.try_get("redirect_uri").map_err(map_sqlx)?,
                redirect_uri_given: row.try_get("redirect_uri_given").map_err(map_sqlx)?,
                scopes: json_list(row, "scopes")?,
                code_challenge: row.try_get("code_challenge").map_err(map_sqlx)?,
                code_challenge_method: row.try_get("code_challenge_method").map_err(map_sqlx)?,
                nonce: row.try_get("nonce").map_err(map_sqlx)?,
                auth_time: row.try_get("auth_time").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                expires_at: row.try_get("expires_at").map_err(map_sqlx)?,
                consumed_at: row.try_get("consumed_at").map_err(map_sqlx)?,
                grant_id: row.try_get("grant_id").map_err(map_sqlx)?,
            })
        }

        fn refresh_token(row: &DbRow) -> Result<RefreshTokenRecord, StoreError> {
            Ok(RefreshTokenRecord {
                token_digest: digest_column(row, "token_digest")?,
                grant_id: row.try_get("grant_id").map_err(map_sqlx)?,
                client_id: row.try_get("client_id").map_err(map_sqlx)?,
                scopes: json_list(row, "scopes")?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                expires_at: row.try_get("expires_at").map_err(map_sqlx)?,
                used_at: row.try_get("used_at").map_err(map_sqlx)?,
            })
        }

        async fn insert_refresh_token(
            connection: &mut <$db as sqlx::Database>::Connection,
            r: &RefreshTokenRecord,
        ) -> Result<(), StoreError> {
            sqlx::query($crate::store::hot::INSERT_REFRESH_TOKEN)
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

        impl HotPath for $store {
            async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                let row = sqlx::query(hot::FIND_CLIENT)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                row.as_ref().map(client).transpose()
            }

            async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
                let row = sqlx::query(hot::FIND_USER)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(user).transpose()
            }

            async fn find_organization(&self, id: &str) -> Result<Option<OrganizationRecord>, StoreError> {
                let row = sqlx::query(hot::FIND_ORGANIZATION)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                row.as_ref().map(organization).transpose()
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
            ) -> Result<Option<$crate::store::SubjectRecord>, StoreError> {
                let row = sqlx::query(hot::FIND_SUBJECT)
                    .bind(user_id)
                    .bind(organization_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                Ok(Some($crate::store::SubjectRecord {
                    user: user(&row)?,
                    organization: OrganizationRecord {
                        id: row.try_get("organization_id").map_err(map_sqlx)?,
                        name: row.try_get("organization_name").map_err(map_sqlx)?,
                        created_at: row.try_get("organization_created_at").map_err(map_sqlx)?,
                    },
                    role: row.try_get("role").map_err(map_sqlx)?,
                }))
            }

            async fn find_session(&self, id_digest: &TokenDigest) -> Result<Option<SessionRecord>, StoreError> {
                let row = sqlx::query(hot::FIND_SESSION)
                .bind(id_digest.0.to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(session).transpose()
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
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn find_authorization_code(
                &self,
                code_digest: &TokenDigest,
            ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
                let row = sqlx::query(hot::FIND_AUTHORIZATION_CODE)
                .bind(code_digest.0.to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(authorization_code).transpose()
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
                let row = sqlx::query(hot::FIND_GRANT)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(grant).transpose()
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

            async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
                let mut connection = self.pool.acquire().await.map_err(map_sqlx)?;
                insert_refresh_token(&mut connection, token).await
            }

            async fn find_refresh_token(
                &self,
                token_digest: &TokenDigest,
            ) -> Result<Option<RefreshTokenRecord>, StoreError> {
                let row = sqlx::query(hot::FIND_REFRESH_TOKEN)
                .bind(token_digest.0.to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(refresh_token).transpose()
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
                let row = sqlx::query(hot::FIND_API_KEY)
                .bind(digest.0.to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(api_key).transpose()
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
    };
}

pub(crate) use impl_hot_path;
