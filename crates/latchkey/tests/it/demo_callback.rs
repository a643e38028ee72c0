//! `serve --demo` ends in a token: the printed authorization URL, opened
//! by a person who signs in as alice and approves, lands on the demo app's
//! callback page on the issuer, which shows tokens that work and commands
//! that work. Errors (a wrong state, Deny, a replayed code) show a plain
//! message and a way back; without `--demo` the page does not exist.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use latchkey::secret::MasterKey;

use crate::backend_tests;
use crate::helpers::{Backend, Options, ServerProcess, TestApp, TestDatabase, read_json};
use crate::user_agent::{ALICE, Page, UserAgent, unescape};

backend_tests!(
    the_printed_url_ends_on_a_page_whose_tokens_and_commands_work,
    a_wrong_state_a_denial_or_a_replayed_code_shows_why_and_a_way_back,
    without_demo_the_callback_page_does_not_exist,
    reseeding_brings_an_older_demo_app_up_to_date,
);

/// The text of the page's `<pre id="…">`.
fn pre(page: &Page, id: &str) -> Option<String> {
    let start = page.body.find(&format!(" id=\"{id}\">"))?;
    let text = &page.body[start..];
    let text = &text[text.find('>')? + 1..];
    Some(unescape(&text[..text.find("</pre>")?]))
}

/// The token response the page shows.
fn shown_tokens(page: &Page) -> Value {
    let text = pre(page, "token-response").unwrap_or_else(|| panic!("no token response on {}", page.body));
    serde_json::from_str(&text).unwrap()
}

/// Where the page's "Start again" link leads.
fn start_again(page: &Page) -> String {
    let marker = "<a class=\"button\" href=\"";
    let start = page
        .body
        .find(marker)
        .unwrap_or_else(|| panic!("no way back on {}", page.body))
        + marker.len();
    let end = page.body[start..].find('"').unwrap() + start;
    unescape(&page.body[start..end])
}

/// A free port on 127.0.0.1, for a server whose issuer must be its own
/// address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn userinfo(http: &reqwest::Client, base_url: &str, access_token: &str) -> (u16, Value) {
    let response = http
        .get(format!("{base_url}/api/oauth/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    read_json(response).await
}

async fn the_printed_url_ends_on_a_page_whose_tokens_and_commands_work(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let env = [
        ("LATCHKEY_DATABASE_URL", database.url.clone()),
        ("LATCHKEY_MASTER_KEY", MasterKey::generate().to_base64()),
        ("LATCHKEY_ISSUER", issuer.clone()),
        ("LATCHKEY_BIND", format!("127.0.0.1:{port}")),
        ("RUST_LOG", "trace".to_owned()),
    ];
    let server = ServerProcess::start(&["serve", "--demo"], &env);
    assert_eq!(server.base_url, issuer);
    let printed = server.value("authorization URL:");
    let client_id = server.value("client_id:");
    let client_secret = server.value("client_secret:");
    assert_eq!(server.value("redirect_uri:"), format!("{issuer}/demo/callback"));
    let query = crate::user_agent::query_of(&printed);
    assert_eq!(query["redirect_uri"], format!("{issuer}/demo/callback"));
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["state"].len() >= 43, "{printed}");

    let mut agent = UserAgent::new(&issuer);
    let redirect = agent.authorize(&printed, ALICE, "approve", None).await;
    let page = agent.follow(redirect).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("It worked: the demo app has tokens"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Alice Example (alice@example.com) approved the demo app")
    );
    assert_eq!(
        page.headers["cache-control"], "no-store",
        "tokens are never cached"
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'")
            && csp.contains("script-src 'self';")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(page.body.contains("without checking its signature"));

    // The token response, as the token endpoint gave it.
    let tokens = shown_tokens(&page);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["scope"].as_str().unwrap().contains("openid"));
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();

    // Both tokens decoded.
    let header: Value = serde_json::from_str(&pre(&page, "access-token-header").unwrap()).unwrap();
    assert_eq!(header["typ"], "at+jwt");
    let claims: Value = serde_json::from_str(&pre(&page, "access-token-payload").unwrap()).unwrap();
    assert_eq!(claims["client_id"], client_id);
    assert!(claims["firm_id"].is_string(), "{claims}");
    let id_claims: Value = serde_json::from_str(&pre(&page, "id-token-payload").unwrap()).unwrap();
    assert_eq!(id_claims["firm_name"], "Acme Legal");
    assert_eq!(id_claims["aud"], client_id);
    assert_eq!(id_claims["email"], ALICE.0);

    // The access token works at userinfo, the refresh token at the token
    // endpoint with the demo app's credentials.
    let http = reqwest::Client::new();
    let (status, info) = userinfo(&http, &issuer, &access_token).await;
    assert_eq!((status, info["email"].as_str()), (200, Some(ALICE.0)), "{info}");
    let response = http
        .post(format!("{issuer}/api/oauth/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)])
        .send()
        .await
        .unwrap();
    let (status, refreshed) = read_json(response).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], refresh_token.as_str());

    // The commands, run as a shell and curl would run them.
    let mut shell = Shell::default();
    shell.assign(&pre(&page, "curl-variables").unwrap());
    assert_eq!(shell.variables["ACCESS_TOKEN"], access_token);
    assert_eq!(shell.variables["CLIENT_SECRET"], client_secret);
    let (status, info) = shell.curl(&pre(&page, "curl-userinfo").unwrap()).await;
    assert_eq!(status, 200, "{info}");
    let (status, me) = shell.curl(&pre(&page, "curl-api").unwrap()).await;
    assert_eq!(status, 200, "{me}");
    assert!(me.contains(ALICE.0), "{me}");
    // The built-in configuration has no grace window: the shown refresh
    // token, already rotated, is refused when presented again, and its
    // grant ends (RFC 9700 §4.14.2).
    let (status, again) = shell.curl(&pre(&page, "curl-refresh").unwrap()).await;
    assert_eq!(status, 400, "{again}");
    assert!(again.contains("invalid_grant"), "{again}");
    let (status, _) = shell.curl(&pre(&page, "curl-userinfo").unwrap()).await;
    assert_eq!(status, 401, "the replay ended the grant at once");
    let (status, _) = shell.curl(&pre(&page, "curl-revoke").unwrap()).await;
    assert_eq!(status, 200, "revoking an ended grant's token still answers 200");

    // Starting again (consent is remembered now) gives a new code, which
    // works once; the callback page visited again shows why nothing comes
    // of it the second time.
    let callback = page_url(&mut agent, &printed).await;
    assert!(
        callback.starts_with(&format!("{issuer}/demo/callback?code=")),
        "{callback}"
    );
    assert_eq!(agent.get(&callback).await.status, 200);
    let replayed = agent.get(&callback).await;
    assert_eq!(replayed.status, 400);
    assert!(
        replayed.body.contains("The code was not accepted"),
        "{}",
        replayed.body
    );
    assert!(replayed.body.contains("invalid_grant"));

    let (status, log) = server.stop();
    assert!(status.success());
    for (name, secret) in [
        ("access token", &access_token),
        ("refresh token", &refresh_token),
        ("ID token", &id_token),
        ("code", &crate::user_agent::query_of(&callback)["code"]),
    ] {
        assert!(!log.contains(secret.as_str()), "the {name} reached the log");
    }

    // A restart prints the same URL, and it still ends in tokens.
    let again = ServerProcess::start(&["serve", "--demo"], &env);
    assert_eq!(again.value("authorization URL:"), printed);
    let mut agent = UserAgent::new(&issuer);
    let redirect = agent.authorize(&printed, ALICE, "approve", None).await;
    let tokens = shown_tokens(&agent.follow(redirect).await);
    let (status, _) = userinfo(&http, &issuer, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(again.terminate().success());
}

/// Runs the authorization request again up to the redirect to the
/// callback page (alice belongs to two organizations, so the consent page
/// asks again, with her last choice preselected), and returns that
/// redirect without following it.
async fn page_url(agent: &mut UserAgent, authorization_url: &str) -> String {
    let mut redirect = agent.get(authorization_url).await;
    if redirect.status == 200 {
        redirect = agent.consent(&redirect, "approve", None).await;
    }
    redirect
        .location
        .unwrap_or_else(|| panic!("no redirect: {} {}", redirect.status, redirect.body))
}

async fn a_wrong_state_a_denial_or_a_replayed_code_shows_why_and_a_way_back(backend: Backend) {
    let options = Options {
        demo: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let demo = &app.demo.as_ref().unwrap().client;
    let mut agent = UserAgent::new(&app.base_url);

    // Deny: the browser comes back with error=access_denied and no code.
    let redirect = agent
        .authorize(&demo.authorization_url, ALICE, "deny", None)
        .await;
    let denied = agent.follow(redirect).await;
    assert_eq!(denied.status, 400, "{}", denied.body);
    assert!(denied.body.contains("Access was denied"), "{}", denied.body);
    assert!(denied.body.contains("access_denied"));
    assert_eq!(start_again(&denied), demo.authorization_url);

    // Approve, then take the code to the page with other parameters.
    let callback = page_url_after_consent(&mut agent, &demo.authorization_url).await;
    let query = crate::user_agent::query_of(&callback);
    let code = query["code"].clone();
    let state = query["state"].clone();
    let iss = query["iss"].clone();
    assert_eq!(iss, app.state.config.issuer);
    let encoded = |pairs: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("code", &code), ("state", "not-the-demo-state")],
            "The state does not match",
        ),
        (&[("code", &code)], "The state does not match"),
        (&[("state", &state)], "No code came back"),
        (
            &[
                ("code", &code),
                ("state", &state),
                ("iss", "https://evil.example"),
            ],
            "The response comes from another server",
        ),
        (
            &[
                ("error", "invalid_scope"),
                ("error_description", "<b>no</b>"),
                ("state", &state),
            ],
            "The authorization failed",
        ),
    ];
    for (pairs, text) in cases {
        let page = agent.get(&format!("/demo/callback?{}", encoded(pairs))).await;
        assert_eq!(page.status, 400, "{pairs:?}: {}", page.body);
        assert!(page.body.contains(text), "{pairs:?}: {}", page.body);
        assert_eq!(start_again(&page), demo.authorization_url, "{pairs:?}");
        assert!(!page.body.contains("<b>no</b>"), "text from the query is escaped");
        assert!(!page.body.contains("access_token"), "{pairs:?}");
    }

    // A response with another state leaves its code unused, and says so
    // for whoever made the request by hand.
    let page = agent
        .get(&format!(
            "/demo/callback?{}",
            encoded(&[("code", &code), ("state", "mine")])
        ))
        .await;
    assert_eq!(pre(&page, "unused-code").as_deref(), Some(code.as_str()));

    // None of those used the code: it still works once…
    let page = agent.get(&callback).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let tokens = shown_tokens(&page);
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app.http, &app.base_url, access_token).await.0, 200);
    // …and only once: the replay is refused and revokes what it gave.
    let replayed = agent.get(&callback).await;
    assert_eq!(replayed.status, 400);
    assert!(
        replayed.body.contains("The code was not accepted"),
        "{}",
        replayed.body
    );
    assert!(replayed.body.contains("authorization code has already been used"));
    assert_eq!(start_again(&replayed), demo.authorization_url);
    assert_eq!(userinfo(&app.http, &app.base_url, access_token).await.0, 401);
}

/// Signs in and approves (for the first organization), and returns the
/// redirect to the callback page without following it.
async fn page_url_after_consent(agent: &mut UserAgent, authorization_url: &str) -> String {
    let first = agent.get(authorization_url).await;
    let page = agent.follow(first).await;
    assert!(page.body.contains("name=\"decision\""), "{}", page.body);
    let redirect = agent.consent(&page, "approve", None).await;
    redirect.location.unwrap()
}

async fn without_demo_the_callback_page_does_not_exist(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let demo = app.seed_demo().await;
    let mut agent = UserAgent::new(&app.base_url);
    let redirect = agent
        .authorize(&demo.client.authorization_url, ALICE, "approve", None)
        .await;
    assert!(
        redirect
            .location
            .as_ref()
            .unwrap()
            .contains("/demo/callback?code=")
    );
    let done = agent.follow(redirect).await;
    assert_eq!(done.status, 404, "{}", done.body);
    let response = app
        .http
        .get(app.url("/demo/callback?code=x&state=y"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));

    // No configured path may take the page's place.
    let mut raw = latchkey::config::RawConfig::default();
    raw.paths.login = Some("/demo/callback".to_owned());
    let refused = raw.validate().err().unwrap().to_string();
    assert!(refused.contains("paths.login"), "{refused}");
}

async fn reseeding_brings_an_older_demo_app_up_to_date(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let demo = app.seed_demo().await;
    let id = &demo.client.client_id;
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/oauth-clients/{id}"),
            Some(json!({
                "redirectUris": ["http://localhost:3000/oauth/callback"],
                "allowed_scopes": ["openid"],
                "homepageUrl": "http://localhost:3000",
            })),
        )
        .await;
    assert_eq!(status, 200);
    let again = app.seed_demo().await;
    assert_eq!(again.client.authorization_url, demo.client.authorization_url);
    let (_, shown) = app
        .admin(Method::GET, &format!("/oauth-clients/{id}"), None)
        .await;
    assert_eq!(
        shown["data"]["redirectUris"],
        json!([format!("{}/demo/callback", app.base_url)])
    );
    let scopes: Vec<&str> = app.state.config.scopes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(shown["data"]["allowed_scopes"], json!(scopes));
    assert!(shown["data"]["homepageUrl"].is_null(), "{shown}");
}

/// Just enough of a POSIX shell and of curl to run the page's commands:
/// `NAME=value` lines, quotes, `$NAME`, line continuations, and curl's
/// `-s`, `-i`, `-H`, `-u` and `-d`.
#[derive(Default)]
struct Shell {
    variables: HashMap<String, String>,
}

impl Shell {
    fn assign(&mut self, script: &str) {
        for line in script.lines() {
            let words = self.words(line);
            assert_eq!(words.len(), 1, "{line}");
            let (name, value) = words[0].split_once('=').unwrap();
            self.variables.insert(name.to_owned(), value.to_owned());
        }
    }

    fn words(&self, text: &str) -> Vec<String> {
        let text = text.replace("\\\n", " ");
        let mut words = Vec::new();
        let mut word: Option<String> = None;
        let mut chars = text.chars().peekable();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => words.extend(word.take()),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    word.get_or_insert_default();
                }
                (Some(q), c) if c == q => quote = None,
                (None | Some('"'), '$') => {
                    let mut name = String::new();
                    while let Some(n) = chars.next_if(|n| n.is_ascii_alphanumeric() || *n == '_') {
                        name.push(n);
                    }
                    let value = self
                        .variables
                        .get(&name)
                        .unwrap_or_else(|| panic!("${name} is not set"));
                    word.get_or_insert_default().push_str(value);
                }
                (None | Some('"'), '\\') => {
                    word.get_or_insert_default().extend(chars.next());
                }
                (_, c) => word.get_or_insert_default().push(c),
            }
        }
        assert_eq!(quote, None, "unterminated quote in {text}");
        words.extend(word);
        words
    }

    /// Runs a curl command; returns the status and body.
    async fn curl(&self, command: &str) -> (u16, String) {
        let words = self.words(command);
        assert_eq!(words[0], "curl", "{command}");
        let (mut url, mut headers, mut user, mut data) = (None, Vec::new(), None, Vec::new());
        let mut args = words[1..].iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-s" | "-i" => {}
                "-H" => headers.push(args.next().unwrap().clone()),
                "-u" => user = args.next().cloned(),
                "-d" => data.push(args.next().unwrap().clone()),
                other if !other.starts_with('-') => url = Some(other.to_owned()),
                other => panic!("unexpected curl option {other}"),
            }
        }
        let http = reqwest::Client::new();
        let url = url.unwrap();
        let mut request = if data.is_empty() {
            http.get(&url)
        } else {
            http.post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(data.join("&"))
        };
        for header in headers {
            let (name, value) = header.split_once(": ").unwrap();
            request = request.header(name, value);
        }
        if let Some(user) = user {
            let (id, secret) = user.split_once(':').unwrap();
            request = request.basic_auth(id, Some(secret));
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}
