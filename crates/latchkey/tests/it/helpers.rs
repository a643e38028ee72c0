//! `TestApp`: the real server on 127.0.0.1:0 with a fresh database (a
//! temporary SQLite file, or a new PostgreSQL database), driven over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use latchkey::app::App;
use latchkey::config::{Config, RawConfig};
use latchkey::http::AppState;
use latchkey::secret::{MasterKey, Secret};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `mod name { sqlite, postgres }` tests calling `name(Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// A fresh, empty database for one test.
pub struct TestDatabase {
    pub url: String,
    pub dir: TempDir,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("latchkey.db").display()),
            Backend::Postgres => create_postgres_database().await,
        };
        Self { url, dir }
    }
}

async fn create_postgres_database() -> String {
    let server = std::env::var("PG_TEST_URL").unwrap_or_else(|_| {
        panic!("PG_TEST_URL is not set: run the suite with scripts/test, which starts PostgreSQL")
    });
    let name = format!("lk_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&server)
        .await
        .expect("connect to PG_TEST_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = server.rsplit_once('/').expect("PG_TEST_URL ends with /database");
    format!("{base}/{name}")
}

/// Path of a file under the repository's `examples/`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// A change to the raw configuration before it is validated.
pub type Tweak = Box<dyn FnOnce(&mut RawConfig) + Send>;

/// How a test wants the server configured.
#[derive(Default)]
pub struct Options {
    /// An example configuration file to start from.
    pub config_file: Option<PathBuf>,
    /// Keep the file's issuer instead of pointing it at the test server.
    pub keep_issuer: bool,
    /// Applied to the raw configuration last.
    pub tweak: Option<Tweak>,
    /// Share another app's database and master key (a second instance).
    pub share_with: Option<(String, MasterKey)>,
    /// Run as `serve --demo` does: seed the demo data and serve the demo
    /// app's callback page.
    pub demo: bool,
}

pub struct TestApp {
    pub base_url: String,
    /// `http://` and the `metrics.bind` address, when configured.
    pub metrics_url: Option<String>,
    pub database: TestDatabase,
    pub master_key: MasterKey,
    pub state: AppState,
    pub http: reqwest::Client,
    /// What `serve --demo` would print, when spawned with `Options::demo`.
    pub demo: Option<latchkey::demo::DemoCredentials>,
    shutdown: Option<oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, options: Options) -> Self {
        let (database, master_key) = match options.share_with {
            Some((url, key)) => (
                TestDatabase {
                    url,
                    dir: tempfile::tempdir().unwrap(),
                },
                key,
            ),
            None => (TestDatabase::create(backend).await, MasterKey::generate()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let mut raw = match &options.config_file {
            Some(path) => RawConfig::from_file(path).unwrap(),
            None => RawConfig::default(),
        };
        if !options.keep_issuer {
            raw.issuer = Some(base_url.clone());
        }
        raw.database_url = Some(Secret::new(database.url.clone()));
        raw.admin_api_keys = Some(vec![Secret::new(ADMIN_KEY)]);
        raw.master_key = Some(Secret::new(master_key.to_base64()));
        if let Some(tweak) = options.tweak {
            tweak(&mut raw);
        }
        let config: Config = raw.validate().unwrap();
        let mut app = App::build_with_listener(config, listener).await.unwrap();
        let metrics_url = app.metrics_addr().map(|addr| format!("http://{}", addr.unwrap()));
        let demo = if options.demo {
            Some(app.enable_demo(latchkey::unix_now()).await.unwrap())
        } else {
            None
        };
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        Self {
            base_url,
            metrics_url,
            database,
            master_key,
            state,
            http: reqwest::Client::new(),
            demo,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.unwrap(),
            None => Ok(()),
        }
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        read_json(response).await
    }

    /// An admin API call with the test admin key.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(&format!("/api/v1/admin{path}")))
            .header("x-admin-api-key", ADMIN_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read_json(request.send().await.unwrap()).await
    }

    /// The status userinfo answers for a bearer access token.
    pub async fn userinfo_status(&self, access_token: &str) -> u16 {
        let response = self
            .http
            .get(self.url(&self.state.config.paths.userinfo))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    /// Registers a confidential client; returns `data` of the response.
    pub async fn create_client(&self, body: Value) -> Value {
        let (status, json) = self
            .admin(reqwest::Method::POST, "/oauth-clients", Some(body))
            .await;
        assert_eq!(status, 201, "{json}");
        json["data"].clone()
    }

    /// A second server on the same database, as another instance would be.
    pub async fn second_instance(&self, backend: Backend) -> TestApp {
        let options = Options {
            keep_issuer: true,
            tweak: Some(Box::new({
                let issuer = self.state.config.issuer.clone();
                move |raw| raw.issuer = Some(issuer)
            })),
            share_with: Some((self.database.url.clone(), self.master_key.clone())),
            ..Options::default()
        };
        TestApp::spawn_with(backend, options).await
    }

    /// Seeds the demo data (alice in two organizations, the demo app).
    pub async fn seed_demo(&self) -> latchkey::demo::DemoCredentials {
        latchkey::demo::seed(
            self.state.store.as_ref(),
            &self.state.config,
            &self.master_key,
            latchkey::unix_now(),
        )
        .await
        .unwrap()
    }

    /// A user who is a member of one new organization; returns (user id,
    /// organization id).
    pub async fn add_member(
        &self,
        email: &str,
        password: &str,
        organization: &str,
        role: &str,
    ) -> (String, String) {
        let (status, org) = self
            .admin(
                reqwest::Method::POST,
                "/organizations",
                Some(serde_json::json!({"name": organization})),
            )
            .await;
        assert_eq!(status, 201, "{org}");
        let org_id = org["data"]["id"].as_str().unwrap().to_owned();
        let user_id = self.add_member_to(email, password, &org_id, role).await;
        (user_id, org_id)
    }

    /// A new user who is a member of the existing `organization_id` with
    /// `role`; returns the user id.
    pub async fn add_member_to(
        &self,
        email: &str,
        password: &str,
        organization_id: &str,
        role: &str,
    ) -> String {
        use reqwest::Method;
        let body = serde_json::json!({"email": email, "name": email.split('@').next().unwrap(), "password": password, "emailVerified": true});
        let (status, user) = self.admin(Method::POST, "/users", Some(body)).await;
        assert_eq!(status, 201, "{user}");
        let user_id = user["data"]["id"].as_str().unwrap().to_owned();
        let body = serde_json::json!({"userId": user_id, "role": role});
        let (status, added) = self
            .admin(
                Method::POST,
                &format!("/organizations/{organization_id}/members"),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{added}");
        user_id
    }

    /// Runs the `latchkey` binary against this app's database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        run_cli(&self.database.url, &self.master_key, args, stdin)
    }
}

pub fn run_cli(
    database_url: &str,
    master_key: &MasterKey,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LATCHKEY_DATABASE_URL", database_url)
        .env("LATCHKEY_MASTER_KEY", master_key.to_base64())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub async fn read_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}, not JSON: {text}"));
    (status, json)
}

/// A typical registration body, as in the integration guide.
pub fn client_body() -> Value {
    serde_json::json!({
        "name": "Your Application Name",
        "description": "Description of your integration",
        "redirectUris": [
            "https://yourapp.com/oauth/callback",
            "https://yourapp.com/api/auth/callback/casexchange"
        ],
        "allowed_scopes": ["openid", "email", "profile", "cases:read", "cases:write"]
    })
}

/// A `latchkey serve` process and the address it reported. Everything it
/// writes to stderr (its log) is kept.
pub struct ServerProcess {
    child: std::process::Child,
    pub base_url: String,
    pub stdout: String,
    log: Arc<Mutex<String>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    pub fn start(args: &[&str], env: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LATCHKEY_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let err = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let log_reader = std::thread::spawn({
            let log = Arc::clone(&log);
            move || {
                for line in err.lines().map_while(Result::ok) {
                    if let Some((_, rest)) = line.split_once("listening on ") {
                        let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let (out_tx, out_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut printed = Vec::new();
            for line in out.lines().map_while(Result::ok) {
                let last = line.contains("authorization URL");
                printed.push(line);
                if last {
                    break;
                }
            }
            let _ = out_tx.send(printed.join("\n"));
        });
        let base_url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server reported where it listens");
        let stdout = if args.contains(&"--demo") {
            out_rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default()
        } else {
            String::new()
        };
        Self {
            child,
            base_url,
            stdout,
            log,
            log_reader: Some(log_reader),
        }
    }

    /// The operating-system process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn value(&self, label: &str) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("{label} not printed in {}", self.stdout))
            .trim()
            .to_owned()
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        self.stop().0
    }

    /// SIGTERM, then the exit status and everything the process logged.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.log_reader.take() {
            reader.join().unwrap();
        }
        let log = std::mem::take(&mut *self.log.lock().unwrap());
        (status, log)
    }
}

impl Drop for ServerProcess {
    /// A test that fails half-way must not leave its server running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
