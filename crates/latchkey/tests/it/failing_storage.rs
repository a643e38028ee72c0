//! Failing storage (SPEC 13): nothing returned is ever lost. The SQLite
//! file sits on a small tmpfs that is then filled; every code and refresh
//! token the server hands out while the disk is full must work once space
//! is back (and after a restart), and every failed write must answer a
//! clean 503, never a success.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use latchkey::secret::MasterKey;
use serde_json::Value;

use crate::helpers::{Backend, Options, TestApp};
use crate::seed_integrations::{authorize_url, register, token_form};
use crate::user_agent::{ALICE, UserAgent, query_of};

const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// A size-limited tmpfs mounted for the length of one test.
struct SmallDisk {
    mount_point: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mount_point = dir.path().join("disk");
        std::fs::create_dir(&mount_point).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&mount_point)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it; run the suite as root (CI does)"
        );
        Self {
            mount_point,
            _dir: dir,
        }
    }

    fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Writes a filler file until the filesystem refuses more.
    fn fill(&self) {
        let mut file = std::fs::File::create(self.mount_point.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.mount_point.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount_point).status();
    }
}

async fn spawn_on(url: &str, key: &MasterKey) -> TestApp {
    let options = Options {
        share_with: Some((url.to_owned(), key.clone())),
        ..Options::default()
    };
    TestApp::spawn_with(Backend::Sqlite, options).await
}

fn refresh_form<'a>(client_id: &'a str, secret: &'a str, token: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", client_id),
        ("client_secret", secret),
    ]
}

fn code_form<'a>(client_id: &'a str, secret: &'a str, code: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id),
        ("client_secret", secret),
    ]
}

/// A failed write answers 503 with an OAuth error body, never a success.
fn assert_clean_refusal(status: u16, body: &Value) {
    assert_eq!(status, 503, "a failed write must answer 503: {body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
}

/// Seeds the demo data, registers a client, and has alice sign in,
/// consent and exchange a code: the agent keeps her session (later
/// authorization requests get a code without a page), `Issued` her tokens.
async fn connect_alice(app: &TestApp) -> (UserAgent, Issued) {
    app.seed_demo().await;
    let (client_id, secret) = register(app, &[REDIRECT], &["openid", "email", "cases:read"]).await;
    let mut issued = Issued {
        client_id,
        secret,
        access: String::new(),
        refresh: String::new(),
    };
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent
        .authorize(&issued.authorize_url(app), ALICE, "approve", None)
        .await;
    let code = query_of(&first.location.unwrap())["code"].clone();
    let (status, tokens, _) = token_form(app, &code_form(&issued.client_id, &issued.secret, &code)).await;
    assert_eq!(status, 200, "{tokens}");
    issued.access = tokens["access_token"].as_str().unwrap().to_owned();
    issued.refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    (agent, issued)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_returned_is_lost_when_the_sqlite_disk_fills() {
    let disk = SmallDisk::mount(6);
    let url = format!("sqlite://{}", disk.path().join("latchkey.db").display());
    let key = MasterKey::generate();
    let mut app = spawn_on(&url, &key).await;
    // Sign in and consent while there is room; later requests reuse both.
    let (mut agent, issued) = connect_alice(&app).await;
    let (client_id, secret, mut refresh) = (
        issued.client_id.clone(),
        issued.secret.clone(),
        issued.refresh.clone(),
    );
    disk.fill();
    let mut codes = Vec::new();
    let mut refusals = 0;
    // Until the full disk has refused a few writes: the first ones after
    // the fill may still fit in space the WAL already holds.
    for _ in 0..200 {
        if refusals >= 4 {
            break;
        }
        let page = agent.get(&issued.authorize_url(&app)).await;
        match page.location.as_deref().map(query_of) {
            Some(query) if query.contains_key("code") => codes.push(query["code"].clone()),
            Some(query) => {
                // RFC 6749 §4.1.2.1: the redirect names the failure.
                assert_eq!(query["error"], "temporarily_unavailable", "{query:?}");
                refusals += 1;
            }
            None => panic!("neither a code nor an error: {} {}", page.status, page.body),
        }
        let (status, body, _) = token_form(&app, &refresh_form(&client_id, &secret, &refresh)).await;
        if status == 200 {
            refresh = body["refresh_token"].as_str().unwrap().to_owned();
        } else {
            assert_clean_refusal(status, &body);
            refusals += 1;
        }
    }
    assert!(
        refusals > 0,
        "the full disk refused no write: the test proves nothing"
    );

    disk.free();
    app.stop().await.unwrap();
    let app = spawn_on(&url, &key).await;
    for code in &codes {
        let (status, body, _) = token_form(&app, &code_form(&client_id, &secret, code)).await;
        assert_eq!(
            status, 200,
            "a code handed out while the disk was full is lost: {body}"
        );
    }
    let (status, body, _) = token_form(&app, &refresh_form(&client_id, &secret, &refresh)).await;
    assert_eq!(status, 200, "the last refresh token handed out is lost: {body}");
    let next = agent.get(&issued.authorize_url(&app)).await;
    assert!(next.location.unwrap().contains("code="), "writes work again");
}

/// A TCP proxy between the server and PostgreSQL that can freeze (hold
/// every byte, as a stopped or partitioned host would) or go down (drop
/// every connection and refuse new ones, as a stopped server would).
struct FlakyLink {
    address: std::net::SocketAddr,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl FlakyLink {
    async fn start(upstream: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let link = Self {
            address: listener.local_addr().unwrap(),
            frozen: Default::default(),
            down: Default::default(),
            connections: Default::default(),
        };
        let (frozen, down, connections) = (link.frozen.clone(), link.down.clone(), link.connections.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if down.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let mut list = connections.lock().unwrap();
                for (from, to) in [
                    (
                        Box::new(client_read) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
                        Box::new(server_write) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
                    ),
                    (Box::new(server_read), Box::new(client_write)),
                ] {
                    let frozen = frozen.clone();
                    list.push(tokio::spawn(Self::pump(from, to, frozen)).abort_handle());
                }
            }
        });
        link
    }

    async fn pump(
        mut from: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        mut to: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
        frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let Ok(n) = from.read(&mut buffer).await else {
                return;
            };
            if n == 0 {
                return;
            }
            while frozen.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            if to.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    }

    fn freeze(&self, on: bool) {
        self.frozen.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    fn set_down(&self, on: bool) {
        self.down.store(on, std::sync::atomic::Ordering::SeqCst);
        if on {
            for connection in self.connections.lock().unwrap().drain(..) {
                connection.abort();
            }
        }
    }
}

/// Every request kind a client makes answers 503 within the configured
/// bound, with the shape of its route, and `/readyz` within a second.
async fn assert_unavailable_within_bound(app: &TestApp, issued: &Issued, agent: &mut UserAgent) {
    let bound = std::time::Duration::from_secs(4);
    let started = std::time::Instant::now();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1500),
        "readyz took {:?}",
        started.elapsed()
    );

    let started = std::time::Instant::now();
    let (status, body, headers) = token_form(
        app,
        &refresh_form(&issued.client_id, &issued.secret, &issued.refresh),
    )
    .await;
    assert_clean_refusal(status, &body);
    assert!(headers.contains_key("retry-after"));
    assert!(started.elapsed() < bound, "refresh took {:?}", started.elapsed());

    let started = std::time::Instant::now();
    assert_eq!(app.userinfo_status(&issued.access).await, 503);
    assert!(started.elapsed() < bound, "userinfo took {:?}", started.elapsed());

    let started = std::time::Instant::now();
    let (status, body) = app.admin(reqwest::Method::GET, "/oauth-clients", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    assert!(
        started.elapsed() < bound,
        "admin API took {:?}",
        started.elapsed()
    );

    let started = std::time::Instant::now();
    let page = agent.get(&issued.authorize_url(app)).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        started.elapsed() < bound,
        "authorize took {:?}",
        started.elapsed()
    );
}

struct Issued {
    client_id: String,
    secret: String,
    access: String,
    refresh: String,
}

impl Issued {
    /// An authorization request of this client to `app`, naming alice's
    /// first organization so that remembered consent skips the page.
    fn authorize_url(&self, app: &TestApp) -> String {
        let params = [
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("organization_id", "3f1c2a10-5b7e-4c1d-9a00-00000000ac01"),
        ];
        authorize_url(app, &params)
    }
}

/// After the database is back, the same server works without a restart.
async fn assert_recovered(app: &TestApp, issued: &mut Issued) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (status, body, _) = token_form(
            app,
            &refresh_form(&issued.client_id, &issued.secret, &issued.refresh),
        )
        .await;
        if status == 200 {
            issued.refresh = body["refresh_token"].as_str().unwrap().to_owned();
            issued.access = body["access_token"].as_str().unwrap().to_owned();
            break;
        }
        assert_clean_refusal(status, &body);
        assert!(std::time::Instant::now() < deadline, "no recovery: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(app.get_json("/readyz").await.0, 200);
    assert_eq!(app.userinfo_status(&issued.access).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_or_frozen_answers_503_in_bounded_time_and_recovers() {
    let database = crate::helpers::TestDatabase::create(Backend::Postgres).await;
    let url = url::Url::parse(&database.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let link = FlakyLink::start(upstream).await;
    let mut proxied = url.clone();
    proxied.set_port(Some(link.address.port())).unwrap();
    let options = Options {
        share_with: Some((proxied.to_string(), MasterKey::generate())),
        tweak: Some(Box::new(|raw| {
            raw.database.acquire_timeout_seconds = Some(1);
            raw.database.statement_timeout_seconds = Some(1);
            raw.database.request_timeout_seconds = Some(2);
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Postgres, options).await;
    let (mut agent, mut issued) = connect_alice(&app).await;
    link.freeze(true);
    assert_unavailable_within_bound(&app, &issued, &mut agent).await;
    link.freeze(false);
    assert_recovered(&app, &mut issued).await;

    link.set_down(true);
    assert_unavailable_within_bound(&app, &issued, &mut agent).await;
    link.set_down(false);
    assert_recovered(&app, &mut issued).await;
    drop(database);
}
