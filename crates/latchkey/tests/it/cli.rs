//! The `latchkey` binary: start-up from configuration files and the
//! environment, `serve --demo`, graceful shutdown, and the management
//! commands working on the same data as the admin API.

use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, ServerProcess, TestApp, TestDatabase, client_body, example, read_json};
use latchkey::secret::MasterKey;

backend_tests!(
    admin_api_client_is_listed_by_the_cli,
    cli_client_commands_act_on_what_the_admin_api_sees,
    users_create_reads_the_password_from_stdin,
    keys_rotate_publishes_a_new_key_and_retire_removes_an_old_one,
    api_keys_made_by_the_cli_work_on_the_api_until_revoked,
    serve_demo_seeds_idempotently_and_prints_working_credentials,
    environment_beats_the_configuration_file,
    a_signal_as_soon_as_the_server_listens_stops_it_gracefully,
);

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn admin_api_client_is_listed_by_the_cli(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let data = app.create_client(client_body()).await;
    let id = data["clientId"].as_str().unwrap();
    let listed = stdout(&app.cli(&["clients", "list"], None));
    assert!(listed.contains(id), "{listed}");
    assert!(listed.contains("Your Application Name"), "{listed}");
    let shown = stdout(&app.cli(&["clients", "show", id], None));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["redirectUris"], data["redirectUris"]);
}

async fn cli_client_commands_act_on_what_the_admin_api_sees(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = stdout(&app.cli(
        &[
            "clients",
            "create",
            "--name",
            "From the CLI",
            "--redirect-uri",
            "https://cli.example/cb",
            "--scope",
            "openid email",
            "--scope",
            "cases:read",
        ],
        None,
    ));
    let id = created
        .lines()
        .find_map(|l| l.strip_prefix("client_id:"))
        .unwrap()
        .trim()
        .to_owned();
    let secret = created
        .lines()
        .find_map(|l| l.strip_prefix("client_secret:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(secret.starts_with("secret_"));
    let (status, shown) = app
        .admin(Method::GET, &format!("/oauth-clients/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        shown["data"]["allowed_scopes"],
        json!(["openid", "email", "cases:read"])
    );

    let rotated = stdout(&app.cli(&["clients", "rotate-secret", &id], None));
    let new_secret = rotated
        .lines()
        .find_map(|l| l.strip_prefix("client_secret:"))
        .unwrap()
        .trim();
    assert_ne!(new_secret, secret);
    stdout(&app.cli(&["clients", "disable", &id], None));
    let (_, shown) = app
        .admin(Method::GET, &format!("/oauth-clients/{id}"), None)
        .await;
    assert_eq!(shown["data"]["enabled"], false);
    stdout(&app.cli(&["clients", "delete", &id], None));
    let (status, _) = app
        .admin(Method::GET, &format!("/oauth-clients/{id}"), None)
        .await;
    assert_eq!(status, 404);

    let refused = app.cli(
        &[
            "clients",
            "create",
            "--name",
            "Bad",
            "--redirect-uri",
            "http://evil.example/cb",
            "--scope",
            "openid",
        ],
        None,
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("http://evil.example/cb"));
}

async fn users_create_reads_the_password_from_stdin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = stdout(&app.cli(
        &["users", "create", "--email", "erin@example.com", "--name", "Erin"],
        Some("a password from stdin\n"),
    ));
    let id = created.trim();
    let user = app.state.store.find_user(id).await.unwrap().unwrap();
    let matches = app
        .state
        .passwords
        .verify(
            latchkey::secret::Secret::new("a password from stdin"),
            Some(user.password_hash),
        )
        .await;
    assert_eq!(matches, Ok(true));
    let org = stdout(&app.cli(&["orgs", "create", "--name", "Birch & Partners"], None));
    stdout(&app.cli(
        &[
            "orgs",
            "add-member",
            org.trim(),
            "--user-id",
            id,
            "--role",
            "ATTORNEY",
        ],
        None,
    ));
    let (_, members) = app
        .admin(
            Method::GET,
            &format!("/organizations/{}/members", org.trim()),
            None,
        )
        .await;
    assert_eq!(members["data"][0]["role"], "ATTORNEY");
    let listed = stdout(&app.cli(&["users", "list"], None));
    assert!(listed.contains("erin@example.com"));
}

async fn keys_rotate_publishes_a_new_key_and_retire_removes_an_old_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, jwks) = app.get_json("/.well-known/jwks.json").await;
    let first = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

    // A scheduled rotation publishes the new key but keeps signing with the old.
    stdout(&app.cli(&["keys", "rotate"], None));
    app.state.keys.reload(app.state.store.as_ref()).await.unwrap();
    let (_, jwks) = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let now = latchkey::unix_now();
    assert_eq!(
        app.state.keys.ring().active_kid(latchkey::keys::Alg::Rs256, now),
        Some(first.as_str())
    );
    let listed = stdout(&app.cli(&["keys", "list"], None));
    assert!(
        listed.contains("pending") && listed.contains("active"),
        "{listed}"
    );

    // `--now` switches signing at once (within the second, as times have
    // one-second resolution); the old key stays published.
    stdout(&app.cli(&["keys", "rotate", "--now"], None));
    app.state.keys.reload(app.state.store.as_ref()).await.unwrap();
    let soon = latchkey::unix_now() + 1;
    let active = app
        .state
        .keys
        .ring()
        .active_kid(latchkey::keys::Alg::Rs256, soon)
        .unwrap()
        .to_owned();
    assert_ne!(active, first);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let refused = app.cli(&["keys", "retire", &active], None);
    assert!(!refused.status.success(), "the active key cannot be retired");
    let refused = app.cli(&["keys", "retire", &first], None);
    assert!(
        !refused.status.success(),
        "a key whose tokens may be live needs --force"
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--force"), "{said}");
    stdout(&app.cli(&["keys", "retire", &first, "--force"], None));
    app.state.keys.reload(app.state.store.as_ref()).await.unwrap();
    let (_, jwks) = app.get_json("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(!kids.contains(&first.as_str()));
    assert!(kids.contains(&active.as_str()));
}

async fn serve_demo_seeds_idempotently_and_prints_working_credentials(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let env = [
        ("LATCHKEY_DATABASE_URL", database.url.clone()),
        ("LATCHKEY_MASTER_KEY", MasterKey::generate().to_base64()),
    ];
    let server = ServerProcess::start(&["serve", "--demo"], &env);
    let client_id = server.value("client_id:");
    let secret = server.value("client_secret:");
    let admin_key = server.value("admin API key:");
    assert!(
        server
            .stdout
            .contains("alice@example.com / correct horse battery staple")
    );
    let http = reqwest::Client::new();
    let admin = |path: &str| {
        http.get(format!("{}/api/v1/admin{path}", server.base_url))
            .header("x-admin-api-key", admin_key.clone())
            .send()
    };
    let (status, client) = read_json(admin(&format!("/oauth-clients/{client_id}")).await.unwrap()).await;
    assert_eq!(status, 200, "{client}");
    let (_, orgs) = read_json(admin("/organizations").await.unwrap()).await;
    let names: Vec<&str> = orgs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme Legal", "Birch & Partners"]);
    let (_, users) = read_json(admin("/users").await.unwrap()).await;
    let alice = users["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, memberships) = read_json(admin(&format!("/users/{alice}/memberships")).await.unwrap()).await;
    let roles: Vec<&str> = memberships["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.len(), 2);
    assert!(roles.contains(&"FIRM_ADMIN") && roles.contains(&"ATTORNEY"));
    let authorize = server.value("authorization URL:");
    assert!(
        authorize.starts_with("http://localhost:3001/api/oauth/authorize?response_type=code&client_id="),
        "{authorize}"
    );
    assert!(authorize.contains("code_challenge_method=S256"));
    assert!(server.terminate().success(), "graceful shutdown exits 0");

    let again = ServerProcess::start(&["serve", "--demo"], &env);
    assert_eq!(again.value("client_id:"), client_id);
    assert_eq!(
        again.value("client_secret:"),
        secret,
        "the printed secret stays valid across restarts"
    );
    let (_, orgs) = read_json(
        http.get(format!("{}/api/v1/admin/organizations", again.base_url))
            .header("x-admin-api-key", admin_key.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(orgs["data"].as_array().unwrap().len(), 2, "seeding is idempotent");
    let stored = {
        let settings = latchkey::config::DatabaseSettings {
            max_connections: 1,
            sqlite_synchronous: latchkey::config::SqliteSynchronous::Normal,
            ..latchkey::config::DatabaseSettings::new(database.url.clone())
        };
        let store = latchkey::store::open(&settings).await.unwrap();
        store.find_client(&client_id).await.unwrap().unwrap()
    };
    assert!(
        stored
            .secret_digest
            .unwrap()
            .matches(&latchkey::secret::Secret::new(secret).digest())
    );
    assert!(again.terminate().success());
}

async fn environment_beats_the_configuration_file(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config = example("clientcasa.toml");
    let env = [
        ("LATCHKEY_DATABASE_URL", database.url.clone()),
        ("LATCHKEY_ISSUER", issuer.clone()),
        ("LATCHKEY_BIND", format!("127.0.0.1:{port}")),
        ("LATCHKEY_MASTER_KEY", MasterKey::generate().to_base64()),
    ];
    let server = ServerProcess::start(&["--config", config.to_str().unwrap(), "serve"], &env);
    assert_eq!(server.base_url, issuer);
    let response = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .unwrap();
    let (_, metadata) = read_json(response).await;
    assert_eq!(metadata["issuer"], issuer.as_str());
    assert_eq!(
        metadata["token_endpoint"],
        format!("{issuer}/api/auth/oauth2/token")
    );
    assert!(server.terminate().success());
}

#[test]
fn invalid_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("LATCHKEY_ISSUER", "https://example.com/")], "`issuer`"),
        (&[("LATCHKEY_BIND", "not-an-address")], "`bind`"),
        (
            &[("LATCHKEY_TOKENS__ACCESS_TOKEN_TTL_SECONDS", "soon")],
            "tokens.access_token_ttl_seconds",
        ),
        (
            &[(
                "LATCHKEY_TOKENS__PUBLIC_CLIENT_REFRESH_TOKEN_GRACE_SECONDS",
                "999999999999",
            )],
            "tokens.public_client_refresh_token_grace_seconds",
        ),
        (&[("LATCHKEY_MASTER_KEY", "too-short")], "`master_key`"),
    ];
    for (env, key) in cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        command
            .arg("serve")
            .env_clear()
            .env(
                "LATCHKEY_DATABASE_URL",
                format!("sqlite://{}/x.db", dir.path().display()),
            )
            .current_dir(dir.path());
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{env:?} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{env:?}: {stderr}");
    }
    let missing = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["--config", "/nonexistent/latchkey.toml", "serve"])
        .env_clear()
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/latchkey.toml"));
}

async fn api_keys_made_by_the_cli_work_on_the_api_until_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let org = "3f1c2a10-5b7e-4c1d-9a00-00000000ac01";
    let created = stdout(&app.cli(
        &[
            "api-keys",
            "create",
            "--org",
            org,
            "--name",
            "Nightly export",
            "--scope",
            "cases:read firm:read",
        ],
        None,
    ));
    let id = created
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .unwrap()
        .trim()
        .to_owned();
    let key = created
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(key.starts_with("key_"), "{key}");
    let firm = |key: String| {
        let http = app.http.clone();
        let url = app.url("/api/v1/firm");
        async move {
            http.get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(firm(key.clone()).await, 200);
    let listed = stdout(&app.cli(&["api-keys", "list", "--org", org], None));
    assert!(
        listed.contains("Nightly export") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&key), "the key is never shown again");
    let refused = app.cli(
        &[
            "api-keys", "create", "--org", org, "--name", "x", "--scope", "openid",
        ],
        None,
    );
    assert!(!refused.status.success());
    stdout(&app.cli(&["api-keys", "revoke", "--org", org, &id], None));
    assert_eq!(firm(key).await, 401, "revoked at once");
}

/// SIGTERM the moment the server says it listens: the handler is already
/// in place, so it stops gracefully (exit 0) rather than dying of the
/// signal. Several times, as the moment is short.
async fn a_signal_as_soon_as_the_server_listens_stops_it_gracefully(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let master_key = MasterKey::generate().to_base64();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let env = [
            ("LATCHKEY_DATABASE_URL", database.url.clone()),
            ("LATCHKEY_ISSUER", format!("http://127.0.0.1:{port}")),
            ("LATCHKEY_BIND", format!("127.0.0.1:{port}")),
            ("LATCHKEY_MASTER_KEY", master_key.clone()),
        ];
        let server = ServerProcess::start(&["serve"], &env);
        let (status, log) = server.stop();
        assert!(status.success(), "{status:?}\n{log}");
    }
}
