//! The `Store` contract, method by method, against both backends: the same
//! calls must give the same answers on SQLite and PostgreSQL. Every method
//! of the trait is called here, and each test checks what it returns and
//! what a later read sees. One file per area: `clients` (clients and scope
//! reviews), `accounts` (users, organizations, memberships, admin and
//! signing keys, sessions, API keys), `grants` (consents, codes and their
//! exchange, connected apps), `tokens` (grant revocation, access-token
//! liveness and revocation, refresh tokens and their rotation),
//! `housekeeping` (audit events, the example API's records, purging) and
//! `registrations` (dynamic registrations, initial access tokens) and
//! `delegate` (login challenges and delegated sign-ins), `user_tokens`
//! (links sent by mail: password reset, email verification), `passkeys`
//! (WebAuthn user handles, passkeys, ceremonies) and `second_factor`
//! (authenticator apps, recovery codes, the organization rule).

use std::sync::Arc;

use latchkey::config::{DatabaseSettings, SqliteSynchronous};
use latchkey::oauth::grant_type::GrantType;
use latchkey::secret::TokenDigest;
use latchkey::store::{
    AuthorizationCodeRecord, ClientRecord, GrantRecord, MembershipRecord, OrganizationRecord,
    RefreshTokenRecord, ScopeReviewRecord, ScopeReviewStatus, Store, StoreError, UserRecord,
};

use crate::backend_tests;
use crate::helpers::{Backend, TestDatabase};

mod accounts;
mod client_credentials;
mod client_documents;
mod clients;
mod delegate;
mod grants;
mod housekeeping;
mod passkeys;
mod registrations;
mod second_factor;
mod tokens;
mod user_tokens;

backend_tests!(migrations_are_idempotent);

/// A store on a fresh database. Eight connections, so the concurrency
/// tests can run their callers truly at once.
async fn open(backend: Backend) -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::create(backend).await;
    let settings = DatabaseSettings {
        max_connections: 8,
        sqlite_synchronous: SqliteSynchronous::Normal,
        ..DatabaseSettings::new(database.url.clone())
    };
    (latchkey::store::open(&settings).await.unwrap(), database)
}

/// Text that a careless driver would mangle: non-ASCII letters, an emoji
/// outside the BMP, a combining mark, quotes, a backslash, and a newline.
const ODD_TEXT: &str = "Zoë’s “Café” ☕ 🦀 e\u{301} 'quoted' \\ back\nline";

/// A long value, 20 000 characters of mixed widths.
fn long_text() -> String {
    "ä€𝄞x".repeat(5_000)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict))
}

fn is_missing_reference<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::MissingReference))
}

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        secret_digest: Some(TokenDigest::of("secret")),
        name: "App".into(),
        description: "An app".into(),
        homepage_url: Some("https://app.example".into()),
        logo_url: None,
        redirect_uris: vec!["https://app.example/cb".into(), "http://localhost:3000/cb".into()],
        allowed_scopes: vec!["openid".into(), "cases:read".into()],
        token_endpoint_auth_method: "client_secret_basic".into(),
        organization_id: None,
        grant_types: GrantType::DEFAULT.to_vec(),
        id_token_signed_response_alg: None,
        enabled: true,
        created_at: 100,
        updated_at: 100,
        origin: Default::default(),
    }
}

fn user(id: &str, email: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        email: email.into(),
        name: "User".into(),
        email_verified: false,
        password_hash: "$argon2id$hash".into(),
        created_at: 1,
        updated_at: 1,
    }
}

fn organization(id: &str, name: &str) -> OrganizationRecord {
    OrganizationRecord {
        id: id.into(),
        name: name.into(),
        created_at: 1,
    }
}

fn membership(organization_id: &str, user_id: &str, role: &str) -> MembershipRecord {
    MembershipRecord {
        organization_id: organization_id.into(),
        user_id: user_id.into(),
        role: role.into(),
        created_at: 5,
    }
}

fn review(client_id: &str, scope: &str, requested_at: i64) -> ScopeReviewRecord {
    ScopeReviewRecord {
        client_id: client_id.into(),
        scope: scope.into(),
        status: ScopeReviewStatus::Pending,
        reason: None,
        requested_at,
        decided_at: None,
    }
}

/// An unconsumed code of client `c1` for `u1` in `o1`, with every
/// optional field set.
fn code(value: &str) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        code_digest: TokenDigest::of(value),
        client_id: "c1".into(),
        user_id: "u1".into(),
        organization_id: "o1".into(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_given: true,
        scopes: strings(&["openid", "cases:read"]),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        resources: strings(&["https://mcp.example.com", "https://billing.example.com/api"]),
        auth_time: 1_000,
        amr: strings(&["pwd", "otp", "mfa"]),
        created_at: 1_000,
        expires_at: 1_060,
        consumed_at: None,
        grant_id: None,
    }
}

/// A live grant of client `c1` for `u1` in `o1`.
fn grant(id: &str) -> GrantRecord {
    GrantRecord {
        id: id.into(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        organization_id: "o1".into(),
        scopes: strings(&["openid", "cases:read"]),
        resources: strings(&["https://mcp.example.com"]),
        auth_time: 1_000,
        amr: strings(&["hwk", "mfa"]),
        created_at: 1_010,
        revoked_at: None,
    }
}

/// An unused refresh token of grant `grant_id`.
fn refresh(value: &str, grant_id: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_digest: TokenDigest::of(value),
        grant_id: grant_id.into(),
        client_id: "c1".into(),
        scopes: strings(&["openid", "cases:read"]),
        created_at: 1_010,
        expires_at: 100_000,
        used_at: None,
    }
}

/// The usual cast: users `u1` and `u2`, organizations `o1` ("Acme") and
/// `o2` ("Birch") with `u1` a member of both, and the client `c1` owned
/// by no organization.
async fn seed(store: &dyn Store) {
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    store.insert_user(&user("u2", "u2@example.com")).await.unwrap();
    store
        .insert_organization(&organization("o1", "Acme"))
        .await
        .unwrap();
    store
        .insert_organization(&organization("o2", "Birch"))
        .await
        .unwrap();
    store
        .upsert_membership(&membership("o1", "u1", "admin"))
        .await
        .unwrap();
    store
        .upsert_membership(&membership("o2", "u1", "member"))
        .await
        .unwrap();
    store.insert_client(&client("c1")).await.unwrap();
}

/// A grant created the way the token endpoint creates one: by exchanging
/// a code, with its first refresh token.
async fn exchanged_grant(store: &dyn Store, grant_id: &str, refresh_value: &str) {
    let code_value = format!("code-for-{grant_id}");
    store.insert_authorization_code(&code(&code_value)).await.unwrap();
    let outcome = store
        .exchange_authorization_code(
            &TokenDigest::of(&code_value),
            &grant(grant_id),
            Some(&refresh(refresh_value, grant_id)),
            1_010,
        )
        .await
        .unwrap();
    assert_eq!(outcome, latchkey::store::CodeExchange::Exchanged);
}

async fn migrations_are_idempotent(backend: Backend) {
    let (store, database) = open(backend).await;
    store.ping().await.unwrap();
    store.insert_client(&client("kept")).await.unwrap();
    let settings = DatabaseSettings {
        max_connections: 2,
        sqlite_synchronous: SqliteSynchronous::Full,
        ..DatabaseSettings::new(database.url.clone())
    };
    let reopened = latchkey::store::open(&settings).await.unwrap();
    assert!(reopened.find_client("kept").await.unwrap().is_some());
    reopened.ping().await.unwrap();
}
