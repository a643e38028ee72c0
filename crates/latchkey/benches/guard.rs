//! The token guard's cost per request, as the protected API pays it: a
//! valid access token (RS256 verification + the grant-liveness lookup in
//! SQLite), a revoked one (the same work, refused), and an API key (digest
//! and lookup); and what recording a request in the metrics adds to
//! every request. Run with `cargo bench -p latchkey --bench guard`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::HeaderValue;
use criterion::{Criterion, criterion_group, criterion_main};
use latchkey::audit::Actor;
use latchkey::config::RawConfig;
use latchkey::grants::authority::StoreAuthority;
use latchkey::grants::tokens::{self, Subject};
use latchkey::keys::{self, Keys};
use latchkey::oauth::scope::ScopeSet;
use latchkey::secret::{MasterKey, Secret};
use latchkey::store::{AuthorizationCodeRecord, GrantRecord, OrganizationRecord};
use latchkey_verify::{Guard, Policy};

struct Fixture {
    guard: Guard,
    valid: HeaderValue,
    revoked: HeaderValue,
    api_key: HeaderValue,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let raw = RawConfig {
        database_url: Some(Secret::new(format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        ))),
        ..RawConfig::default()
    };
    let config = raw.validate().unwrap();
    let store = latchkey::store::open(&config.database).await.unwrap();
    let master = MasterKey::generate();
    let now = latchkey::unix_now();
    keys::ensure_signing_keys(store.as_ref(), &master, &[keys::Alg::Rs256], now)
        .await
        .unwrap();
    let keys = Arc::new(Keys::load(store.as_ref(), master).await.unwrap());
    let organization = OrganizationRecord {
        id: "org".into(),
        name: "Acme".into(),
        created_at: now,
    };
    store.insert_organization(&organization).await.unwrap();
    let user = latchkey::accounts::NewUser {
        email: "bench@example.com".into(),
        name: "Bench".into(),
        password: Secret::new("a long password"),
        email_verified: true,
    };
    let passwords = latchkey::accounts::password::Passwords::start(1, 1);
    let user = latchkey::accounts::create_user(store.as_ref(), &passwords, user, now)
        .await
        .unwrap();
    latchkey::accounts::set_membership(store.as_ref(), "org", &user.id, "admin", now)
        .await
        .unwrap();
    let registration = latchkey::clients::Registration {
        name: "Bench".into(),
        redirect_uris: vec!["https://bench.example/cb".into()],
        allowed_scopes: vec!["openid".into(), "cases:read".into()],
        ..Default::default()
    };
    let client = latchkey::clients::register(store.as_ref(), &config, registration, now)
        .await
        .unwrap()
        .client;
    let subject = Subject::load(store.as_ref(), &user.id, "org")
        .await
        .unwrap()
        .unwrap();
    let scopes = ScopeSet::parse("openid cases:read").unwrap();

    let grant_token = |n: u8| {
        let store = Arc::clone(&store);
        let (config, keys, client, subject, scopes, user) = (
            config.clone(),
            Arc::clone(&keys),
            client.clone(),
            subject.clone(),
            scopes.clone(),
            user.clone(),
        );
        async move {
            let code = Secret::new(format!("code-{n}"));
            let record = AuthorizationCodeRecord {
                code_digest: code.digest(),
                client_id: client.client_id.clone(),
                user_id: user.id.clone(),
                organization_id: "org".into(),
                redirect_uri: "https://bench.example/cb".into(),
                redirect_uri_given: true,
                scopes: scopes.to_vec(),
                code_challenge: None,
                code_challenge_method: None,
                nonce: None,
                resources: Vec::new(),
                auth_time: now,
                amr: vec!["pwd".into()],
                created_at: now,
                expires_at: now + 600,
                consumed_at: None,
                grant_id: None,
            };
            store.insert_authorization_code(&record).await.unwrap();
            let grant = GrantRecord {
                id: tokens::new_grant_id(),
                client_id: client.client_id.clone(),
                user_id: user.id.clone(),
                organization_id: "org".into(),
                scopes: scopes.to_vec(),
                resources: Vec::new(),
                auth_time: now,
                amr: vec!["pwd".into()],
                created_at: now,
                revoked_at: None,
            };
            store
                .exchange_authorization_code(&code.digest(), &grant, None, now)
                .await
                .unwrap();
            let token = tokens::access_token(
                &config,
                &keys.ring(),
                &subject,
                &client.client_id,
                &latchkey::oauth::resource::Target {
                    audience: config.resources.api().identifier.clone(),
                    scopes: scopes.clone(),
                },
                &grant.id,
                now,
            )
            .unwrap();
            (grant.id, token)
        }
    };
    let (_, valid) = grant_token(1).await;
    let (revoked_grant, revoked) = grant_token(2).await;
    store.revoke_grant(&revoked_grant, now).await.unwrap();
    let (_, api_key) = latchkey::accounts::api_keys::create(
        store.as_ref(),
        &config,
        "org",
        "bench",
        &["cases:read".to_owned()],
        &Actor::Cli,
        now,
    )
    .await
    .unwrap();

    let policy = Policy {
        issuer: config.issuer.clone(),
        audience: Some(config.issuer.clone()),
        tenant_claim: config.claims.tenant_id.clone(),
        leeway_seconds: 30,
        api_key_prefix: config.prefixes.api_key.clone(),
    };
    let guard = Guard::new(policy, Arc::new(StoreAuthority { store, keys }));
    let bearer = |credential: &str| HeaderValue::from_str(&format!("Bearer {credential}")).unwrap();
    Fixture {
        guard,
        valid: bearer(&valid),
        revoked: bearer(&revoked),
        api_key: bearer(api_key.expose()),
        _dir: dir,
    }
}

fn guard(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fixture = runtime.block_on(fixture());
    let now = latchkey::unix_now();
    assert!(
        runtime
            .block_on(fixture.guard.authenticate(Some(&fixture.valid), now))
            .is_ok()
    );
    assert!(
        runtime
            .block_on(fixture.guard.authenticate(Some(&fixture.revoked), now))
            .is_err()
    );
    assert!(
        runtime
            .block_on(fixture.guard.authenticate(Some(&fixture.api_key), now))
            .is_ok()
    );

    let mut group = c.benchmark_group("guard");
    group.bench_function("valid access token", |b| {
        b.to_async(&runtime)
            .iter(|| fixture.guard.authenticate(Some(&fixture.valid), now))
    });
    group.bench_function("revoked access token", |b| {
        b.to_async(&runtime)
            .iter(|| fixture.guard.authenticate(Some(&fixture.revoked), now))
    });
    group.bench_function("api key", |b| {
        b.to_async(&runtime)
            .iter(|| fixture.guard.authenticate(Some(&fixture.api_key), now))
    });
    group.bench_function("signature and claims only", |b| {
        let keys = fixture.guard.authority.keys();
        let token = fixture
            .valid
            .to_str()
            .unwrap()
            .trim_start_matches("Bearer ")
            .to_owned();
        b.iter(|| latchkey_verify::verify_access_token(&fixture.guard.policy, &keys, &token, now))
    });
    group.finish();
}

struct NoPool;

impl latchkey::metrics::ScrapeSource for NoPool {
    fn pool_connections(&self) -> (u64, u64) {
        (0, 0)
    }
    fn password_rejections(&self) -> u64 {
        0
    }
}

fn metrics(c: &mut Criterion) {
    let metrics = latchkey::metrics::Metrics::new(Arc::new(NoPool));
    let elapsed = std::time::Duration::from_micros(700);
    c.bench_function("metrics/record a request", |b| {
        b.iter(|| metrics.request("/api/oauth/token", 200, elapsed))
    });
}

criterion_group!(benches, guard, metrics);
criterion_main!(benches);
