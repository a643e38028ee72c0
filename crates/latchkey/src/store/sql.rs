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
        use $crate::store::{
            AdminKeyRecord, ClientRecord, MembershipRecord, OrganizationRecord, SigningKeyRecord,
            Store, StoreError, UserRecord, backend, map_sqlx,
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
                enabled: row.try_get("enabled").map_err(map_sqlx)?,
                created_at: row.try_get("created_at").map_err(map_sqlx)?,
                updated_at: row.try_get("updated_at").map_err(map_sqlx)?,
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

        fn all<T>(rows: Vec<DbRow>, map: fn(&DbRow) -> Result<T, StoreError>) -> Result<Vec<T>, StoreError> {
            rows.iter().map(map).collect()
        }

        fn changed(result: <$db as sqlx::Database>::QueryResult) -> bool {
            result.rows_affected() > 0
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_sqlx)?;
                Ok(())
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
                sqlx::query(
                    "INSERT INTO clients (client_id, secret_digest, name, description, homepage_url, \
                     logo_url, redirect_uris, allowed_scopes, token_endpoint_auth_method, \
                     organization_id, enabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(())
            }

            async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT client_id, secret_digest, name, description, homepage_url, logo_url, \
                     redirect_uris, allowed_scopes, token_endpoint_auth_method, organization_id, \
                     enabled, created_at, updated_at FROM clients WHERE client_id = $1",
                )
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                row.as_ref().map(client).transpose()
            }

            async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT client_id, secret_digest, name, description, homepage_url, logo_url, \
                     redirect_uris, allowed_scopes, token_endpoint_auth_method, organization_id, \
                     enabled, created_at, updated_at FROM clients ORDER BY created_at, client_id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                all(rows, client)
            }

            async fn update_client_details(&self, c: &ClientRecord) -> Result<bool, StoreError> {
                let result = sqlx::query(
                    "UPDATE clients SET name = $1, description = $2, homepage_url = $3, logo_url = $4, \
                     redirect_uris = $5, allowed_scopes = $6, updated_at = $7 WHERE client_id = $8",
                )
                .bind(&c.name)
                .bind(&c.description)
                .bind(&c.homepage_url)
                .bind(&c.logo_url)
                .bind(to_json_list(&c.redirect_uris)?)
                .bind(to_json_list(&c.allowed_scopes)?)
                .bind(c.updated_at)
                .bind(&c.client_id)
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
                let result = sqlx::query(
                    "UPDATE clients SET enabled = $1, updated_at = $2 WHERE client_id = $3",
                )
                .bind(enabled)
                .bind(now)
                .bind(client_id)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
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
                let row = sqlx::query(
                    "SELECT id, email, name, email_verified, password_hash, created_at, updated_at \
                     FROM users WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                row.as_ref().map(user).transpose()
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
                let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                row.as_ref().map(organization).transpose()
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
                let rows = sqlx::query(
                    "SELECT organization_id, user_id, role, created_at FROM memberships \
                     WHERE user_id = $1 ORDER BY created_at, organization_id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
                all(rows, membership)
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
        }
    };
}

pub(crate) use impl_store;
