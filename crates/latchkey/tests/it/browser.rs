//! The sign-in and consent pages in a real browser: headless Chromium
//! (Debian's `chromium` and `chromium-driver`, installed by `.ci/run`)
//! driven over WebDriver, at a 320 px wide window, checking what a person
//! sees (the app named at sign-in, Approve in view without scrolling, the
//! last organization preselected) and doing what a person does.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::user_agent::{ALICE, query_of};

backend_tests!(a_person_signs_in_and_approves_in_chromium);

/// The campaign's open redirect: a link to the sign-in page whose
/// `return_to` smuggles another host past the filter with characters the
/// browser strips. Signing in must land on this server, whatever the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_links_never_lead_a_browser_to_another_origin() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed_demo().await;
    let browser = Browser::start().await;
    let page = browser.client();
    let origin = url::Url::parse(&app.base_url).unwrap().origin();
    for target in [
        "/%09/evil.example/",
        "/%0a/evil.example/",
        "/%0d%0a/evil.example/",
        "/%5c/evil.example/",
        "/%5c%5cevil.example/",
        "//evil.example/",
        "/%2f/evil.example/",
        "/%20/evil.example/",
        "/%00/evil.example/",
        "https://evil.example/",
        "/%E3%80%80/evil.example/",
    ] {
        // A fresh sign-in for every link.
        page.delete_all_cookies().await.unwrap();
        page.goto(&format!("{}/login?return_to={target}", app.base_url))
            .await
            .unwrap();
        browser.type_into("input[name=email]", ALICE.0).await;
        browser.type_into("input[name=password]", ALICE.1).await;
        browser.click("button[type=submit]").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let landed = page.current_url().await.unwrap();
        assert_eq!(landed.origin(), origin, "{target} led the browser to {landed}");
    }
    browser.close().await;
}

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// A chromedriver process and a browser session on it; both end on drop.
struct Browser {
    driver: Child,
    client: Option<Client>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    async fn start() -> Self {
        Self::start_at(320).await
    }

    /// A browser whose page is `width` CSS pixels wide: a window that size,
    /// or below Chromium's smallest headless window (500 px) a phone's
    /// screen emulated at that width.
    async fn start_at(width: u32) -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "browser tests need Debian's chromium and chromium-driver (.ci/run installs them)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = fantoccini::wd::Capabilities::new();
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--window-size={},900", width.max(500)),
                format!("--user-data-dir={}", profile.path().display()),
            ]
        });
        if width < 500 {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": 812, "pixelRatio": 1.0}});
        }
        capabilities.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    // Wait for elements to appear rather than racing page loads.
                    let timeouts =
                        fantoccini::wd::TimeoutConfiguration::new(None, None, Some(Duration::from_secs(10)));
                    client.update_timeouts(timeouts).await.unwrap();
                    return Self {
                        driver,
                        client: Some(client),
                        _profile: profile,
                    };
                }
                Err(error) => last_error = Some(error.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start a session: {last_error:?}");
    }

    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    async fn value(&self, css: &str) -> String {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    async fn text(&self, css: &str) -> String {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.client().find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Whether the element lies wholly inside the window as the page opens.
    async fn in_view(&self, css: &str) -> bool {
        let element = self.client().find(Locator::Css(css)).await.unwrap();
        let (x, y, width, height) = element.rectangle().await.unwrap();
        let window = self
            .client()
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap();
        let (inner_width, inner_height) = (window[0].as_f64().unwrap(), window[1].as_f64().unwrap());
        x >= 0.0 && y >= 0.0 && x + width <= inner_width && y + height <= inner_height
    }

    /// Whether the page fits the window without horizontal scrolling.
    async fn fits_width(&self) -> bool {
        let widths = self
            .client()
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        widths[0].as_f64().unwrap() <= widths[1].as_f64().unwrap()
    }

    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

async fn a_person_signs_in_and_approves_in_chromium(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let client = app
        .create_client(json!({
            "name": "Zapier-style Automations",
            "description": "Moves your cases into your CRM every hour.",
            "homepageUrl": "https://automations.example",
            "logoUrl": "https://automations.example/logo.png",
            "redirectUris": [CALLBACK],
            "allowed_scopes": ["openid", "email", "profile", "cases:read"],
        }))
        .await;
    let client_id = client["clientId"].as_str().unwrap();
    let url = crate::seed_integrations::authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CALLBACK),
            ("scope", "openid email cases:read"),
            ("state", "browser-state"),
        ],
    );

    let browser = Browser::start().await;
    let page = browser.client();
    page.goto(&url).await.unwrap();
    assert!(page.current_url().await.unwrap().path().ends_with("/login"));
    assert_eq!(
        browser.text("h1").await,
        "Sign in to continue to Zapier-style Automations"
    );
    assert!(browser.fits_width().await, "the sign-in page fits 320 px");
    assert_eq!(
        page.find(Locator::Css("input[name=password]"))
            .await
            .unwrap()
            .attr("type")
            .await
            .unwrap()
            .as_deref(),
        Some("password")
    );

    // A wrong password: one generic message, the email kept.
    browser.type_into("input[name=email]", ALICE.0).await;
    browser
        .type_into("input[name=password]", "not the password")
        .await;
    browser.click("button[type=submit]").await;
    assert_eq!(browser.text("[role=alert]").await, "Incorrect email or password.");
    assert_eq!(browser.value("input[name=email]").await, ALICE.0);

    browser.type_into("input[name=password]", ALICE.1).await;
    browser.click("button[type=submit]").await;

    // The consent page shows the app, the user and each scope's description.
    page.find(Locator::Css("button[name=decision][value=approve]"))
        .await
        .unwrap();
    assert_eq!(browser.text("h1").await, "Zapier-style Automations");
    let body = browser.text("main").await;
    for expected in [
        "Moves your cases into your CRM every hour.",
        "https://automations.example",
        "Alice Example",
        "alice@example.com",
        "Sign you in and know who you are",
        "See your email address",
        "Read cases, referrals, firms and routing",
        "You will be sent to 127.0.0.1:9",
    ] {
        assert!(body.contains(expected), "{expected:?} not shown in {body}");
    }
    assert!(!body.contains("cases:read"), "identifiers stay folded: {body}");
    assert!(
        browser.in_view("button[name=decision][value=approve]").await,
        "Approve without scrolling"
    );
    let logo = page.find(Locator::Css("img.app-logo")).await.unwrap();
    let (_, _, width, height) = logo.rectangle().await.unwrap();
    assert_eq!((width, height), (40.0, 40.0));
    let homepage = page
        .find(Locator::Css("a[href='https://automations.example']"))
        .await
        .unwrap();
    assert!(homepage.attr("rel").await.unwrap().unwrap().contains("noopener"));
    assert!(browser.fits_width().await, "the consent page fits 320 px");

    // Two organizations: the person picks one and approves.
    let select = page
        .find(Locator::Css("select[name=organization]"))
        .await
        .unwrap();
    select
        .select_by_value("3f1c2a10-5b7e-4c1d-9a00-00000000b102")
        .await
        .unwrap();
    page.find(Locator::Css("button[name=decision][value=deny]"))
        .await
        .unwrap();
    browser.click("button[name=decision][value=approve]").await;

    let mut landed = page.current_url().await.unwrap();
    for _ in 0..100 {
        if landed.as_str().starts_with(CALLBACK) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        landed = page.current_url().await.unwrap();
    }
    assert!(landed.as_str().starts_with(CALLBACK), "{landed}");
    let query = query_of(landed.as_str());
    assert_eq!(query["state"], "browser-state");
    assert_eq!(query["iss"], app.state.config.issuer);
    let code = latchkey::secret::Secret::new(query["code"].clone());
    let stored = app
        .state
        .store
        .find_authorization_code(&code.digest())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.organization_id, "3f1c2a10-5b7e-4c1d-9a00-00000000b102");

    // Asked again, the picker opens on the organization chosen before.
    page.goto(&url).await.unwrap();
    assert_eq!(
        browser.value("select[name=organization]").await,
        "3f1c2a10-5b7e-4c1d-9a00-00000000b102"
    );
    browser.close().await;
}

/// A client that registered itself (RFC 7591): its consent page says the
/// platform has not verified it and where the answer goes, in a browser at
/// 1280 and 375 px (screenshots `consent-unverified-<width>.png`), and the
/// approval reaches the app on the port it listens on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_registered_app_is_marked_not_verified_in_chromium() {
    let options = crate::helpers::Options {
        tweak: Some(Box::new(|raw| {
            raw.oauth.dynamic_client_registration = Some("open".into());
        })),
        ..Default::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    app.seed_demo().await;
    let response = app
        .http
        .post(app.url("/api/oauth/register"))
        .json(&json!({
            "client_name": "Cursor",
            "redirect_uris": ["http://127.0.0.1:9/callback"],
            "token_endpoint_auth_method": "none",
            "scope": "openid email profile",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let registered: serde_json::Value = response.json().await.unwrap();
    let challenge = latchkey::secret::pkce_s256_challenge(&"v".repeat(43));
    let url = crate::seed_integrations::authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", registered["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://127.0.0.1:7/callback"),
            ("scope", "openid email"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    for width in [1280, 375] {
        let browser = Browser::start_at(width).await;
        browser.go(&url).await;
        browser.sign_in_as_alice().await;
        browser
            .client()
            .find(Locator::Css("button[name=decision][value=approve]"))
            .await
            .unwrap();
        let note = browser.text(".unverified").await;
        assert!(note.contains("Latchkey has not verified this app."), "{note}");
        assert!(note.contains("127.0.0.1:7"), "the redirect host: {note}");
        assert!(browser.fits_width().await, "the page fits {width} px");
        assert!(
            browser.in_view("button[name=decision][value=approve]").await,
            "Approve without scrolling at {width} px"
        );
        browser.shoot("consent-unverified", width).await;
        browser.click("button[name=decision][value=approve]").await;
        let landed = browser.landed("http://127.0.0.1:7/callback").await;
        assert!(query_of(landed.as_str()).contains_key("code"));
        browser.close().await;
    }
}

/// Where screenshots go: a test artifact under the target directory.
fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Saves what the browser shows as `<name>-<width>.png`.
    async fn shoot(&self, name: &str, width: u32) {
        let png = self.client().screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}-{width}.png")), png).unwrap();
    }

    /// The element of the field whose label starts with `label`.
    async fn field(&self, label: &str) -> fantoccini::elements::Element {
        let xpath = format!("//*[@id=//label[starts-with(normalize-space(.), '{label}')]/@for]");
        self.client().find(Locator::XPath(&xpath)).await.unwrap()
    }

    async fn fill(&self, label: &str, text: &str) {
        let field = self.field(label).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the button or link whose visible text is `text`.
    async fn press(&self, text: &str) {
        let xpath = format!(
            "//button[normalize-space(.)='{text}' and not(@hidden)] | //a[normalize-space(.)='{text}'] | //summary[normalize-space(.)='{text}']"
        );
        self.client()
            .find(Locator::XPath(&xpath))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Ticks a checkbox (leaving it ticked if it already is).
    async fn check(&self, css: &str) {
        let element = self.client().find(Locator::Css(css)).await.unwrap();
        for _ in 0..3 {
            if element.is_selected().await.unwrap() {
                return;
            }
            element.click().await.unwrap();
        }
        assert!(element.is_selected().await.unwrap(), "{css} cannot be ticked");
    }

    /// Waits until the page shows `text` (a submitted form's answer).
    async fn wait_for_text(&self, text: &str) {
        for _ in 0..100 {
            if let Ok(body) = self.client().find(Locator::Css("body")).await
                && body.text().await.is_ok_and(|shown| shown.contains(text))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {text:?}");
    }

    async fn go(&self, url: &str) {
        self.client().goto(url).await.unwrap();
    }

    async fn sign_in_as_alice(&self) {
        self.type_into("input[name=email]", ALICE.0).await;
        self.type_into("input[name=password]", ALICE.1).await;
        self.click("button[type=submit]").await;
    }

    /// Waits until the browser is at a URL starting with `prefix`.
    async fn landed(&self, prefix: &str) -> url::Url {
        for _ in 0..100 {
            let at = self.client().current_url().await.unwrap();
            if at.as_str().starts_with(prefix) {
                return at;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser never reached {prefix}");
    }
}

async fn token_request(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    fields: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = app
        .http
        .post(app.url(&app.state.config.paths.token))
        .basic_auth(client_id, Some(secret))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// An authorization with the app in the browser (alice is signed in):
/// approve, then exchange the code; the token response.
async fn authorize_in_browser(
    browser: &Browser,
    app: &TestApp,
    client_id: &str,
    secret: &str,
) -> serde_json::Value {
    let url = crate::seed_integrations::authorize_url(
        app,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CALLBACK),
            ("scope", "openid email cases:read"),
        ],
    );
    browser.go(&url).await;
    browser.shoot("consent", 1280).await;
    browser.click("button[name=decision][value=approve]").await;
    let landed = browser.landed(CALLBACK).await;
    let code = query_of(landed.as_str())["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
    ];
    let (status, tokens) = token_request(app, client_id, secret, &fields).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn api_status(app: &TestApp, path: &str, bearer: &str) -> u16 {
    let response = app
        .http
        .get(app.url(path))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// The developer dashboard as an organization admin uses it, in Chromium,
/// by the pages' visible labels: create an app and read its secret once,
/// authorize with it, rotate, disable, revoke under Connected Apps, make
/// and revoke an API key, sign out. Screenshots of every page at 1280 and
/// 375 px are saved under the target directory (`tmp/screenshots`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_the_dashboard_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed_demo().await;
    let browser = Browser::start_at(1280).await;
    let base = &app.base_url;

    browser.go(&format!("{base}/settings/oauth-apps")).await;
    browser.shoot("login", 1280).await;
    browser.sign_in_as_alice().await;
    browser.landed(&format!("{base}/settings/oauth-apps")).await;
    browser.shoot("oauth-apps", 1280).await;

    // Create app: the secret is shown once.
    browser.press("Create app").await;
    browser.fill("App name", "Zapflow").await;
    browser.fill("Description", "Moves cases into your CRM.").await;
    browser.fill("Homepage URL", "https://zapflow.example").await;
    browser.fill("Redirect URIs", CALLBACK).await;
    for scope in ["openid", "email", "cases:read"] {
        browser
            .check(&format!("input[name=scopes][value='{scope}']"))
            .await;
    }
    browser.shoot("oauth-app-create", 1280).await;
    browser.press("Create app").await;
    let client_id = browser.text("#revealed-client-id").await;
    let secret = browser.text("#client-secret").await;
    assert!(secret.starts_with("secret_"), "{secret}");
    browser.shoot("oauth-app-created", 1280).await;
    let app_page = format!("{base}/settings/oauth-apps/{client_id}");
    browser.go(&app_page).await;
    assert!(
        !browser.text("main").await.contains(&secret),
        "the secret is shown only once"
    );
    browser.shoot("oauth-app", 1280).await;

    // A full authorization with the new app and its secret.
    let tokens = authorize_in_browser(&browser, &app, &client_id, &secret).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        api_status(&app, &app.state.config.paths.userinfo, &access).await,
        200
    );

    // Rotate secret: the old one is refused at once.
    browser.go(&app_page).await;
    browser.press("Rotate secret…").await;
    browser.press("Rotate secret").await;
    let rotated = browser.text("#client-secret").await;
    assert_ne!(rotated, secret);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let fields = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    assert_eq!(token_request(&app, &client_id, &secret, &fields).await.0, 401);

    // Disable: the user's token stops working.
    browser.go(&app_page).await;
    browser.press("Disable").await;
    browser.wait_for_text("The app is disabled").await;
    assert_eq!(
        api_status(&app, &app.state.config.paths.userinfo, &access).await,
        401
    );
    browser.press("Enable").await;
    browser.wait_for_text("Enabled").await;

    // Connected Apps: Revoke behind its confirmation ends API access.
    let tokens = authorize_in_browser(&browser, &app, &client_id, &rotated).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(api_status(&app, "/api/v1/cases", &access).await, 200);
    browser.go(&format!("{base}/settings/connected-apps")).await;
    browser.shoot("connected-apps", 1280).await;
    let zapflow = "//details[.//button[starts-with(@aria-label, 'Revoke Zapflow')]]/summary";
    browser
        .client()
        .find(Locator::XPath(zapflow))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.shoot("connected-apps-revoke", 1280).await;
    let button = "//button[starts-with(@aria-label, 'Revoke Zapflow')]";
    browser
        .client()
        .find(Locator::XPath(button))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_text("Zapflow no longer has access.").await;
    assert_eq!(api_status(&app, "/api/v1/cases", &access).await, 401);

    // API Keys: create, use, revoke.
    browser.go(&format!("{base}/settings/api-keys")).await;
    browser.fill("Name", "CRM sync").await;
    browser.check("input[name=scopes][value='cases:read']").await;
    browser.press("Create key").await;
    let key = browser.text("#api-key").await;
    browser.shoot("api-keys-created", 1280).await;
    assert_eq!(api_status(&app, "/api/v1/cases", &key).await, 200);
    browser.go(&format!("{base}/settings/api-keys")).await;
    browser.press("Revoke…").await;
    browser.press("Revoke").await;
    browser.wait_for_text("Revoked").await;
    assert_eq!(api_status(&app, "/api/v1/cases", &key).await, 401);
    browser.shoot("api-keys", 1280).await;

    // Sign out.
    browser.press("Sign out").await;
    browser.wait_for_text("You are signed out").await;
    browser.go(&format!("{base}/settings")).await;
    assert!(
        browser
            .landed(&format!("{base}/login"))
            .await
            .path()
            .ends_with("/login")
    );
    browser.close().await;

    // The same pages on a phone.
    let phone = Browser::start_at(375).await;
    phone.go(&format!("{base}/settings/oauth-apps")).await;
    phone.shoot("login", 375).await;
    assert!(phone.fits_width().await, "the sign-in page fits 375 px");
    phone.sign_in_as_alice().await;
    phone.landed(&format!("{base}/settings/oauth-apps")).await;
    for (name, path) in [
        ("oauth-apps", "/settings/oauth-apps".to_owned()),
        ("oauth-app-create", "/settings/oauth-apps/new".to_owned()),
        ("oauth-app", format!("/settings/oauth-apps/{client_id}")),
        ("connected-apps", "/settings/connected-apps".to_owned()),
        ("api-keys", "/settings/api-keys".to_owned()),
        ("not-found", "/no/such/page".to_owned()),
    ] {
        phone.go(&format!("{base}{path}")).await;
        phone.shoot(name, 375).await;
        assert!(phone.fits_width().await, "{name} fits 375 px");
    }
    phone.close().await;
}

/// Machine-to-machine access ticked in the Create app form, and the app's
/// page after a refresh-token replay: the replay listed with its grant and
/// user. Screenshots at 1280 and 375 px (`oauth-app-machine-create`,
/// `oauth-app-replays`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_page_shows_machine_access_and_replays_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed_demo().await;
    let base = &app.base_url;
    for width in [1280, 375] {
        let browser = Browser::start_at(width).await;
        browser.go(&format!("{base}/settings/oauth-apps/new")).await;
        browser.sign_in_as_alice().await;
        browser.landed(&format!("{base}/settings/oauth-apps/new")).await;
        browser.fill("App name", &format!("Nightly sync {width}")).await;
        browser.fill("Redirect URIs", CALLBACK).await;
        for scope in ["openid", "email", "cases:read"] {
            browser
                .check(&format!("input[name=scopes][value='{scope}']"))
                .await;
        }
        browser.check("input[name=machine_access]").await;
        browser
            .client()
            .execute(
                "document.getElementById('machine_access-hint').scrollIntoView()",
                vec![],
            )
            .await
            .unwrap();
        browser.shoot("oauth-app-machine-create", width).await;
        assert!(browser.fits_width().await, "the form fits {width} px");
        browser.press("Create app").await;
        let client_id = browser.text("#revealed-client-id").await;
        let secret = browser.text("#client-secret").await;
        let (status, machine) =
            token_request(&app, &client_id, &secret, &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 200, "{machine}");

        // A refresh token used twice: the second use is a replay.
        let tokens = authorize_in_browser(&browser, &app, &client_id, &secret).await;
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let fields = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
        assert_eq!(token_request(&app, &client_id, &secret, &fields).await.0, 200);
        assert_eq!(token_request(&app, &client_id, &secret, &fields).await.0, 400);

        browser
            .go(&format!("{base}/settings/oauth-apps/{client_id}"))
            .await;
        browser.wait_for_text("Refresh token replays").await;
        let main = browser.text("main").await;
        assert!(main.contains("Allowed: the app's servers get tokens"), "{main}");
        assert!(!main.contains("None detected."), "{main}");
        assert!(main.contains(" UTC"), "{main}");
        browser
            .client()
            .execute(
                "document.getElementById('replays-heading').scrollIntoView()",
                vec![],
            )
            .await
            .unwrap();
        browser.shoot("oauth-app-replays", width).await;
        assert!(browser.fits_width().await, "the app page fits {width} px");
        browser.close().await;
    }
}

/// The consent page of an authorization naming two resources (RFC 8707),
/// at 1280 and 375 px: each resource by its configured name with its host,
/// the page still fitting the width, Approve in view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_page_names_the_resources_in_chromium() {
    use crate::resources::{BILLING, MCP, with_resources};
    let app = TestApp::spawn_with(Backend::Sqlite, with_resources()).await;
    app.seed_demo().await;
    let client = app
        .create_client(json!({
            "name": "Claude",
            "redirectUris": [CALLBACK],
            "allowed_scopes": ["openid", "cases:read", "firm:read"],
        }))
        .await;
    let url = crate::seed_integrations::authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", client["clientId"].as_str().unwrap()),
            ("redirect_uri", CALLBACK),
            ("scope", "openid cases:read firm:read"),
            ("resource", MCP),
            ("resource", BILLING),
        ],
    );
    for width in [1280, 375] {
        let browser = Browser::start_at(width).await;
        browser.go(&url).await;
        browser.sign_in_as_alice().await;
        browser
            .client()
            .find(Locator::Css("button[name=decision][value=approve]"))
            .await
            .unwrap();
        let shown = browser.text("ul.resources").await;
        for expected in [
            "Case assistant",
            "mcp.example.com",
            "Billing",
            "billing.example.com",
        ] {
            assert!(shown.contains(expected), "{expected:?} not in {shown}");
        }
        assert!(browser.fits_width().await, "the consent page fits {width} px");
        browser.shoot("consent-resources", width).await;
        browser.click("button[name=decision][value=approve]").await;
        let landed = browser.landed(CALLBACK).await;
        assert!(query_of(landed.as_str()).contains_key("code"));
        browser.close().await;
    }
}

/// A 40 px square logo for an app known by URL.
const AGENT_LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" viewBox="0 0 40 40"><rect width="40" height="40" rx="8" fill="#c96442"/><text x="20" y="27" font-size="20" font-family="sans-serif" text-anchor="middle" fill="#fff">A</text></svg>"##;

/// An app known by the URL of its metadata document, in Chromium at 1280
/// and 375 px: the consent screen names it from its document, shows its
/// logo, homepage and host and says it is not verified, with Approve in
/// view; Connected Apps lists it with its host. Screenshots:
/// `consent-url-client-*.png`, `connected-apps-url-client-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_known_by_url_on_the_consent_screen_in_chromium() {
    use crate::client_id_metadata::{DocumentServer, Serve, cimd_options};
    let documents = DocumentServer::start().await;
    documents.serve(
        "/logo.svg",
        Serve::Raw(200, "image/svg+xml", AGENT_LOGO.as_bytes().to_vec()),
    );
    let client_id = documents.serve_document(
        "/agent/client.json",
        json!({
            "client_name": "Research Agent",
            "client_uri": documents.url("/"),
            "logo_uri": documents.url("/logo.svg"),
            "redirect_uris": [CALLBACK],
        }),
    );
    let host = documents.base.trim_start_matches("http://").to_owned();
    let app = TestApp::spawn_with(Backend::Sqlite, cimd_options(|_| {})).await;
    app.seed_demo().await;
    for width in [1280, 375] {
        let browser = Browser::start_at(width).await;
        let (challenge, _) = openidconnect::PkceCodeChallenge::new_random_sha256();
        let url = crate::seed_integrations::authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", CALLBACK),
                ("scope", "openid email cases:read"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        );
        browser.go(&url).await;
        assert_eq!(browser.text("h1").await, "Sign in to continue to Research Agent");
        browser.sign_in_as_alice().await;
        browser.wait_for_text("has not verified this app").await;
        assert_eq!(browser.text("h1").await, "Research Agent");
        let note = browser.text(".unverified").await;
        assert!(note.contains("Latchkey has not verified this app"), "{note}");
        assert!(note.contains(&host), "{note}");
        assert!(browser.text(".destination").await.contains("127.0.0.1:9"));
        let logo_loaded = browser
            .client()
            .execute(
                "const i = document.querySelector('img.app-logo'); return i.complete && i.naturalWidth > 0;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(logo_loaded, json!(true), "the document's logo shows");
        assert!(browser.fits_width().await, "the consent page fits {width} px");
        assert!(browser.in_view("button[name=decision][value=approve]").await);
        browser.shoot("consent-url-client", width).await;

        browser.click("button[name=decision][value=approve]").await;
        browser.landed(CALLBACK).await;
        browser
            .go(&format!("{}/settings/connected-apps", app.base_url))
            .await;
        browser.wait_for_text("Research Agent").await;
        assert!(browser.text(".app-host").await.contains(&host));
        assert!(browser.fits_width().await, "Connected Apps fits {width} px");
        browser.shoot("connected-apps-url-client", width).await;
        browser.close().await;
    }
}

/// Settings → Sessions in Chromium: this browser marked, another
/// browser (a scripted one) signed out with its row's "Sign out", which
/// ends that browser's session at once. Screenshots `sessions-1280.png`,
/// `sessions-ended-1280.png` and `sessions-375.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_ended_in_chromium() {
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed_demo().await;
    let base = &app.base_url;
    let scripted = |user_agent: &'static str| async move {
        let mut agent = crate::user_agent::UserAgent::identified_as(base, user_agent);
        let login = agent.get("/login").await;
        assert_eq!(agent.sign_in(&login, ALICE.0, ALICE.1).await.status, 303);
        agent
    };
    let mut firefox = scripted(FIREFOX).await;
    let _phone = scripted(IPHONE).await;

    let browser = Browser::start_at(1280).await;
    browser.go(&format!("{base}/settings/sessions")).await;
    browser.sign_in_as_alice().await;
    browser.landed(&format!("{base}/settings/sessions")).await;
    let main = browser.text("main").await;
    assert!(main.contains("Headless Chrome on Linux This device"), "{main}");
    assert!(
        main.contains("Firefox on Linux") && main.contains("Safari on iOS"),
        "{main}"
    );
    browser.shoot("sessions", 1280).await;

    let button = "//button[starts-with(@aria-label, 'Sign out Firefox on Linux')]";
    browser
        .client()
        .find(Locator::XPath(button))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_text("Signed out of 1 session.").await;
    assert!(!browser.text("main").await.contains("Firefox"));
    browser.shoot("sessions-ended", 1280).await;
    assert_eq!(firefox.get("/settings/sessions").await.status, 303, "signed out");
    browser.close().await;

    let phone = Browser::start_at(375).await;
    phone.go(&format!("{base}/settings/sessions")).await;
    phone.sign_in_as_alice().await;
    phone.landed(&format!("{base}/settings/sessions")).await;
    assert!(phone.fits_width().await, "the sessions page fits 375 px");
    phone.shoot("sessions", 375).await;
    phone.press("Sign out of all other sessions").await;
    phone.wait_for_text("Signed out of 2 sessions.").await;
    assert!(phone.fits_width().await);
    phone.shoot("sessions-ended", 375).await;
    phone.close().await;
}

/// "Forgot password?" in Chromium, by the pages' visible labels: the link
/// on the sign-in page, the email form, the mailed link (captured by a
/// local SMTP sink), "Choose a new password", then sign-in with it and
/// Settings → Password. At 1280 and 375 px; screenshots `forgot-password`,
/// `forgot-password-sent`, `reset-password`, `change-password`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_resets_a_forgotten_password_in_chromium() {
    let (app, sink) = crate::password_reset::app_with_mail(Backend::Sqlite).await;
    let base = &app.base_url;
    let mut password = ALICE.1.to_owned();
    for (round, width) in [1280, 375].into_iter().enumerate() {
        let browser = Browser::start_at(width).await;
        browser.go(&format!("{base}/login")).await;
        browser.press("Forgot password?").await;
        browser.landed(&format!("{base}/login/forgot")).await;
        browser.wait_for_text("Reset your password").await;
        assert!(browser.fits_width().await, "the forgot page fits {width} px");
        browser.shoot("forgot-password", width).await;
        browser.fill("Email", ALICE.0).await;
        browser.press("Send reset link").await;
        browser
            .wait_for_text("If an account exists for that address")
            .await;
        browser.shoot("forgot-password-sent", width).await;

        let mail = sink.wait_for(round + 1).await.remove(round);
        let link = mail.link(&format!("{base}/login/reset?token=")).unwrap();
        browser.go(&link).await;
        browser.wait_for_text("Choose a new password").await;
        assert!(browser.fits_width().await, "the reset page fits {width} px");
        browser.shoot("reset-password", width).await;
        password = format!("new passphrase number {width}");
        browser.fill("New password", &password).await;
        browser.press("Set new password").await;
        browser.wait_for_text("Your password is changed").await;
        browser.press("Sign in").await;
        browser.landed(&format!("{base}/login")).await;
        browser.fill("Email", ALICE.0).await;
        browser.fill("Password", &password).await;
        browser.press("Sign in").await;
        browser.landed(&format!("{base}/settings")).await;

        browser.go(&format!("{base}/settings/password")).await;
        browser.wait_for_text("Change password").await;
        assert!(browser.fits_width().await, "the password page fits {width} px");
        browser.shoot("change-password", width).await;
        browser.fill("Current password", &password).await;
        password = format!("changed passphrase at {width}");
        browser.fill("New password", &password).await;
        browser.press("Change password").await;
        browser.wait_for_text("Your password is changed.").await;
        browser.close().await;
    }
    let mut agent = crate::user_agent::UserAgent::new(base);
    let login = agent.get("/login").await;
    assert_eq!(agent.sign_in(&login, ALICE.0, &password).await.status, 303);
}

/// WebDriver's WebAuthn extension: adds a virtual authenticator to the
/// browser session (a platform authenticator that keeps discoverable
/// credentials and verifies its user).
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// Approves the consent page the browser shows, follows it to the app and
/// exchanges the code: the ID token's claims.
async fn approve_and_exchange(
    browser: &Browser,
    app: &TestApp,
    client_id: &str,
    secret: &str,
) -> serde_json::Value {
    browser
        .client()
        .find(Locator::Css("button[name=decision][value=approve]"))
        .await
        .unwrap();
    browser.click("button[name=decision][value=approve]").await;
    let landed = browser.landed(CALLBACK).await;
    let code = query_of(landed.as_str())["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
    ];
    let (status, tokens) = token_request(app, client_id, secret, &fields).await;
    assert_eq!(status, 200, "{tokens}");
    jwt_claims(tokens["id_token"].as_str().unwrap())
}

/// The claims of a JWT, unverified (the test reads what it was given).
fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Passkeys end to end in Chromium with a virtual authenticator: alice
/// signs in with her password, adds a passkey on Settings → Passkeys, signs
/// out, then signs in with the passkey alone from the sign-in page of an
/// authorization request, which continues to consent and the app; the ID
/// token of the code exchange says a hardware-bound key and two factors
/// (`amr` ["hwk", "mfa"], `acr` "phr"). Screenshots of the Passkeys page
/// and the sign-in page at 1280 and 375 px (`passkeys-*`, `login-passkey-*`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_is_added_then_signs_in_without_a_password_in_chromium() {
    // WebAuthn needs a domain name: the issuer is `localhost`.
    let options = crate::helpers::Options {
        tweak: Some(Box::new(|raw| {
            raw.issuer = raw.issuer.take().map(|i| i.replace("127.0.0.1", "localhost"));
        })),
        ..Default::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    app.seed_demo().await;
    let base = app.state.config.issuer.clone();
    assert!(base.starts_with("http://localhost:"), "{base}");
    let client = app
        .create_client(json!({
            "name": "Casebook",
            "redirectUris": [CALLBACK],
            "allowed_scopes": ["openid", "email"],
        }))
        .await;
    let client_id = client["clientId"].as_str().unwrap().to_owned();
    let secret = client["clientSecret"].as_str().unwrap().to_owned();

    let browser = Browser::start_at(1280).await;
    browser.client().issue_cmd(AddVirtualAuthenticator).await.unwrap();
    browser.go(&format!("{base}/settings/passkeys")).await;
    browser.sign_in_as_alice().await;
    browser.landed(&format!("{base}/settings/passkeys")).await;
    browser.wait_for_text("You have no passkeys yet.").await;
    browser.shoot("passkeys-empty", 1280).await;

    browser.fill("Name", "Work laptop").await;
    browser.press("Add a passkey").await;
    browser.wait_for_text("Passkey added.").await;
    let listed = browser.text("table.passkeys").await;
    assert!(
        listed.contains("Work laptop") && listed.contains("Never"),
        "{listed}"
    );
    assert!(browser.fits_width().await);
    browser.shoot("passkeys", 1280).await;
    let stored = app
        .state
        .store
        .list_passkeys(&alice_id(&app).await)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].backup_eligible,
        "the virtual authenticator keeps its keys"
    );

    // Sign out, then sign in with the passkey alone, continuing an
    // authorization request.
    browser.press("Sign out").await;
    browser.wait_for_text("You are signed out").await;
    let url = format!(
        "{base}{}?{}",
        app.state.config.paths.authorize,
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", CALLBACK),
                ("scope", "openid email"),
                ("nonce", "passkey-nonce"),
            ])
            .finish()
    );
    browser.go(&url).await;
    browser.landed(&format!("{base}/login")).await;
    browser.wait_for_text("Sign in with a passkey").await;
    browser.shoot("login-passkey", 1280).await;
    browser.press("Sign in with a passkey").await;
    let claims = approve_and_exchange(&browser, &app, &client_id, &secret).await;
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "phr", "{claims}");
    assert_eq!(claims["nonce"], "passkey-nonce");
    let used = app
        .state
        .store
        .list_passkeys(&alice_id(&app).await)
        .await
        .unwrap();
    assert!(used[0].last_used_at.is_some(), "the use is recorded");

    // The passkey is also the second step after the password: a fresh
    // sign-in (prompt=login) with alice's password asks for it first.
    let again = format!("{url}&prompt=login");
    browser.go(&again).await;
    browser.landed(&format!("{base}/login")).await;
    browser.sign_in_as_alice().await;
    browser.landed(&format!("{base}/login/second-factor")).await;
    browser
        .wait_for_text("Confirm it is you with one of your passkeys")
        .await;
    browser.shoot("second-factor-passkey", 1280).await;
    browser.press("Use your passkey").await;
    let claims = approve_and_exchange(&browser, &app, &client_id, &secret).await;
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "phr", "{claims}");
    browser.close().await;

    // The pages at a phone's width. The password alone no longer signs
    // alice in (this phone holds no passkey of hers): the second step is
    // shown, and the Passkeys page with a session made for the test.
    let phone = Browser::start_at(375).await;
    phone.go(&format!("{base}/settings/passkeys")).await;
    phone.shoot("login-passkey", 375).await;
    phone.sign_in_as_alice().await;
    phone.landed(&format!("{base}/login/second-factor")).await;
    phone.wait_for_text("Use your passkey").await;
    assert!(phone.fits_width().await, "the second step fits 375 px");
    phone.shoot("second-factor-passkey", 375).await;
    let session = latchkey::accounts::sessions::start(
        app.state.store.as_ref(),
        &alice_id(&app).await,
        None,
        vec!["pwd".into(), "hwk".into(), "mfa".into()],
        latchkey::unix_now(),
    )
    .await
    .unwrap();
    // Set by script (WebDriver's cookie command refuses `localhost` under
    // mobile emulation); the server reads it as the session cookie.
    let script = format!(
        "document.cookie = 'latchkey_session={}; path=/'",
        session.expose()
    );
    phone.client().execute(&script, Vec::new()).await.unwrap();
    phone.go(&format!("{base}/settings/passkeys")).await;
    phone.wait_for_text("Work laptop").await;
    assert!(phone.fits_width().await, "the Passkeys page fits 375 px");
    phone.shoot("passkeys", 375).await;
    phone.close().await;
}

/// A member of an organization that requires a second factor, signing in
/// without one, adds a passkey on the set-up page instead of an app, and
/// the authorization the sign-in was for continues with both factors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_adds_a_passkey_while_signing_in_in_chromium() {
    let options = crate::helpers::Options {
        tweak: Some(Box::new(|raw| {
            raw.issuer = raw.issuer.take().map(|i| i.replace("127.0.0.1", "localhost"));
        })),
        ..Default::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    app.seed_demo().await;
    let base = app.state.config.issuer.clone();
    let (status, rule) = app
        .admin(
            reqwest::Method::PATCH,
            "/organizations/3f1c2a10-5b7e-4c1d-9a00-00000000ac01",
            Some(json!({"requireSecondFactor": true})),
        )
        .await;
    assert_eq!(status, 200, "{rule}");
    let client = app
        .create_client(json!({
            "name": "Casebook",
            "redirectUris": [CALLBACK],
            "allowed_scopes": ["openid"],
        }))
        .await;
    let client_id = client["clientId"].as_str().unwrap().to_owned();
    let secret = client["clientSecret"].as_str().unwrap().to_owned();
    let url = format!(
        "{base}{}?{}",
        app.state.config.paths.authorize,
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", CALLBACK),
                ("scope", "openid"),
            ])
            .finish()
    );
    for width in [1280, 375] {
        let browser = Browser::start_at(width).await;
        browser.client().issue_cmd(AddVirtualAuthenticator).await.unwrap();
        browser.go(&url).await;
        browser.landed(&format!("{base}/login")).await;
        browser.sign_in_as_alice().await;
        browser.landed(&format!("{base}/login/second-factor/setup")).await;
        browser.wait_for_text("Or add a passkey instead").await;
        assert!(browser.fits_width().await, "the set-up page fits {width} px");
        browser.shoot("second-factor-setup", width).await;
        if width == 375 {
            // At a phone's width the page is only looked at.
            browser.close().await;
            break;
        }
        browser.fill("Name", "Office key").await;
        browser.press("Add a passkey and continue").await;
        let claims = approve_and_exchange(&browser, &app, &client_id, &secret).await;
        assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]), "{claims}");
        assert_eq!(claims["acr"], "phr", "{claims}");
        let stored = app
            .state
            .store
            .list_passkeys(&alice_id(&app).await)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].name, "Office key");
        browser.close().await;
        // The operator removes it, so the next browser is asked to set up
        // a second factor again.
        let (status, _) = app
            .admin(
                reqwest::Method::DELETE,
                &format!("/users/{}/second-factors", alice_id(&app).await),
                None,
            )
            .await;
        assert_eq!(status, 200);
    }
}

async fn alice_id(app: &TestApp) -> String {
    app.state
        .store
        .find_user_by_email(ALICE.0)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Two-step verification in Chromium, by the pages' visible labels: alice
/// sets up an authenticator app (the QR code and setup key shown, a code
/// from it turns it on, the recovery codes shown once), then signs in in
/// another browser with a code from the app, and in a third with a
/// recovery code. Screenshots `two-step-setup-1280.png`,
/// `two-step-on-1280.png`, `second-factor-375.png`, `two-step-375.png`
/// and `second-factor-1280.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_step_verification_is_set_up_and_used_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed_demo().await;
    let base = &app.base_url;
    let page = format!("{base}/settings/two-step");

    let browser = Browser::start_at(1280).await;
    browser.go(&page).await;
    browser.sign_in_as_alice().await;
    browser.landed(&page).await;
    browser.press("Set up an authenticator app").await;
    browser.wait_for_text("Scan this QR code").await;
    assert!(browser.text("main").await.contains("Can't scan it?"));
    let key = browser.text("#setup-key").await;
    let authenticator = crate::second_factor::App::from_setup_key(&key);
    browser.shoot("two-step-setup", 1280).await;
    browser
        .fill("Enter the 6-digit code", &authenticator.code(0))
        .await;
    browser.press("Turn on").await;
    browser.wait_for_text("Your recovery codes").await;
    let codes = browser.text("#recovery-codes").await;
    let codes: Vec<&str> = codes.split_whitespace().collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    browser.shoot("two-step-on", 1280).await;
    browser.close().await;

    let sessions = format!("{base}/settings/sessions");
    let phone = Browser::start_at(375).await;
    phone.go(&sessions).await;
    phone.sign_in_as_alice().await;
    phone.landed(&format!("{base}/login/second-factor")).await;
    phone.wait_for_text("Two-step verification").await;
    assert!(phone.fits_width().await, "the second step fits 375 px");
    phone.shoot("second-factor", 375).await;
    phone.fill("Enter the 6-digit code", &authenticator.code(1)).await;
    phone.press("Verify").await;
    phone.landed(&sessions).await;
    phone.go(&page).await;
    phone.wait_for_text("recovery codes left").await;
    assert!(phone.fits_width().await, "the two-step page fits 375 px");
    phone.shoot("two-step", 375).await;
    phone.close().await;

    let laptop = Browser::start_at(1280).await;
    laptop.go(&sessions).await;
    laptop.sign_in_as_alice().await;
    laptop.landed(&format!("{base}/login/second-factor")).await;
    laptop.shoot("second-factor", 1280).await;
    laptop.press("Use a recovery code").await;
    laptop.wait_for_text("Enter one of your recovery codes").await;
    laptop.fill("Enter one of your recovery codes", codes[0]).await;
    laptop.press("Verify").await;
    laptop.landed(&sessions).await;
    laptop.close().await;
}
