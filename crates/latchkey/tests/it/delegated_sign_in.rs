//! Delegated sign-in (`login.mode = "delegate"`): the test plays the
//! platform — it reads the `login_challenge` and `return_to` Latchkey
//! sends the browser to, signs an assertion itself (HS256 with aws-lc-rs's
//! HMAC, or Ed25519), and sends the scripted browser back. The flow ends in
//! tokens; every refusal is a clear page that creates nothing.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use latchkey::config::{RawConfig, RawLogin};
use latchkey::secret::Secret;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::seed_integrations::{authorize_url, register, token_form};
use crate::user_agent::{Page, UserAgent, query_of};

backend_tests!(
    delegated_sign_in_completes_the_code_flow_then_updates_the_user,
    delegated_sign_in_verifies_an_ed25519_public_key_and_refuses_hs256,
    refused_assertions_get_a_clear_page_and_create_nothing,
    returns_from_the_platform_are_rate_limited,
    challenges_and_assertion_ids_are_single_use,
    a_challenge_only_finishes_in_the_browser_that_started_it,
    delegated_sign_in_verifies_with_the_platforms_jwks,
);

const PLATFORM_LOGIN: &str = "https://platform.example/oauth/login";
const PLATFORM: &str = "https://platform.example";
const SECRET: &str = "platform-shared-secret-0123456789abcdef";
const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// The platform's signing key, as the test holds it.
enum PlatformKey {
    Hs256(&'static str),
    Ed25519(Ed25519KeyPair),
}

impl PlatformKey {
    fn sign(&self, claims: &Value) -> String {
        let alg = match self {
            PlatformKey::Hs256(_) => "HS256",
            PlatformKey::Ed25519(_) => "EdDSA",
        };
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match self {
            PlatformKey::Hs256(secret) => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
                hmac::sign(&key, signed.as_bytes()).as_ref().to_vec()
            }
            PlatformKey::Ed25519(pair) => pair.sign(signed.as_bytes()).as_ref().to_vec(),
        };
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn delegate_login(key: RawLogin) -> Options {
    Options {
        tweak: Some(Box::new(move |raw: &mut RawConfig| raw.login = key)),
        ..Options::default()
    }
}

fn hs256_login() -> RawLogin {
    RawLogin {
        mode: Some("delegate".into()),
        delegate_url: Some(PLATFORM_LOGIN.into()),
        delegate_hs256_secret: Some(Secret::new(SECRET)),
        ..RawLogin::default()
    }
}

async fn spawn_hs256(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, delegate_login(hs256_login())).await
}

/// Where Latchkey sent the browser: (login_challenge, return_to).
fn at_platform(page: &Page) -> (String, String) {
    let location = page
        .location
        .clone()
        .unwrap_or_else(|| panic!("no redirect to the platform: {} {}", page.status, page.body));
    assert!(location.starts_with(PLATFORM_LOGIN), "{location}");
    let query = query_of(&location);
    (query["login_challenge"].clone(), query["return_to"].clone())
}

/// Opens a page that needs a sign-in and follows Latchkey's redirects to
/// the platform: (login_challenge, return_to).
async fn go_to_platform(agent: &mut UserAgent, url: &str) -> (String, String) {
    let first = agent.get(url).await;
    let page = agent.follow(first).await;
    at_platform(&page)
}

/// The claims of a good assertion for `challenge`, now.
fn claims(app: &TestApp, challenge: &str, sub: &str, email: &str) -> Value {
    let now = latchkey::unix_now();
    json!({
        "iss": PLATFORM,
        "aud": app.state.config.issuer,
        "iat": now,
        "exp": now + 120,
        "sub": sub,
        "email": email,
        "name": "Dana Platform",
        "email_verified": true,
        "auth_time": now - 100,
        "amr": ["pwd", "otp", "x-unregistered"],
        "login_challenge": challenge,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn with_assertion(return_to: &str, assertion: &str) -> String {
    format!("{return_to}?assertion={assertion}")
}

fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn delegated_sign_in_completes_the_code_flow_then_updates_the_user(backend: Backend) {
    let app = spawn_hs256(backend).await;
    let platform = PlatformKey::Hs256(SECRET);
    let (client_id, secret) = register(&app, &[REDIRECT], &["openid", "email", "profile"]).await;
    let params = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email profile"),
        ("state", "s-1"),
    ];
    let mut agent = UserAgent::new(&app.base_url);
    let (challenge, return_to) = go_to_platform(&mut agent, &authorize_url(&app, &params)).await;
    assert_eq!(return_to, app.url("/login/delegate/return"));
    assert!(challenge.len() >= 32, "{challenge}");

    let mut asserted = claims(&app, &challenge, "platform-user-7", "dana@platform.example");
    asserted["organizations"] = json!([
        {"id": "org-acme", "name": "Acme", "role": "admin"},
        {"name": "Birch", "role": "member"},
    ]);
    let auth_time = asserted["auth_time"].as_i64().unwrap();
    let back = agent
        .get(&with_assertion(&return_to, &platform.sign(&asserted)))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(
        back.location
            .as_deref()
            .unwrap()
            .starts_with(&app.state.config.paths.authorize)
    );
    // The pending authorization request continues: two organizations, so
    // the consent page asks which one.
    let consent = agent.follow(back).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("Dana Platform"), "{}", consent.body);
    let done = agent.consent(&consent, "approve", Some("org-acme")).await;
    let location = done.location.clone().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = query_of(&location);
    assert_eq!(query["state"], "s-1");

    let store = app.state.store.as_ref();
    let user = store
        .find_user_by_external_id("platform-user-7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email, "dana@platform.example");
    assert!(user.email_verified);
    let (status, tokens, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["sub"], user.id.as_str());
    assert_eq!(id_token["auth_time"], auth_time, "the platform's auth_time");
    assert_eq!(
        id_token["amr"],
        json!(["pwd", "otp", "mfa"]),
        "the platform's registered methods, two factors"
    );
    assert_eq!(id_token["acr"], "urn:latchkey:acr:2fa");
    assert_eq!(id_token["email"], "dana@platform.example");
    let access = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["firm_id"], "org-acme");
    let mut memberships: Vec<(String, String)> = store
        .list_memberships(&user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.organization_id, m.role))
        .collect();
    memberships.sort();
    let birch = store.find_organization_by_name("Birch").await.unwrap().unwrap();
    let mut expected = vec![
        ("org-acme".to_owned(), "admin".to_owned()),
        (birch.id.clone(), "member".to_owned()),
    ];
    expected.sort();
    assert_eq!(memberships, expected);

    // prompt=login sends a signed-in browser to the platform again; the
    // second assertion (posted as a form) updates the user: new name and
    // email, Acme's role changed, Birch no longer listed, Cedar new.
    let again = [params.as_slice(), &[("prompt", "login")]].concat();
    let (challenge, return_to) = go_to_platform(&mut agent, &authorize_url(&app, &again)).await;
    let mut asserted = claims(&app, &challenge, "platform-user-7", "dana.new@platform.example");
    asserted["name"] = json!("Dana Renamed");
    asserted["organizations"] = json!([
        {"id": "org-acme", "name": "Acme Inc", "role": "member"},
        {"name": "Cedar", "role": "owner"},
    ]);
    let fields = vec![("assertion".to_owned(), platform.sign(&asserted))];
    let back = agent.post_form(&return_to, &fields).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let updated = store
        .find_user_by_external_id("platform-user-7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.id, user.id, "the same user, matched by sub");
    assert_eq!(updated.email, "dana.new@platform.example");
    assert_eq!(updated.name, "Dana Renamed");
    let memberships = store.list_memberships(&user.id).await.unwrap();
    assert_eq!(memberships.len(), 2, "{memberships:?}");
    assert!(
        memberships
            .iter()
            .any(|m| m.organization_id == "org-acme" && m.role == "member")
    );
    assert!(memberships.iter().all(|m| m.organization_id != birch.id));
    let cedar = store.find_organization_by_name("Cedar").await.unwrap().unwrap();
    assert!(
        memberships
            .iter()
            .any(|m| m.organization_id == cedar.id && m.role == "owner")
    );
    let acme = store.find_organization("org-acme").await.unwrap().unwrap();
    assert_eq!(acme.name, "Acme Inc");
    assert_eq!(store.list_users().await.unwrap().len(), 1);

    // The dashboard's sign-in goes to the platform too, and the local
    // password form is refused.
    let mut stranger = UserAgent::new(&app.base_url);
    let (_, return_to) = go_to_platform(&mut stranger, "/settings/oauth-apps").await;
    assert_eq!(return_to, app.url("/login/delegate/return"));
    let logout = stranger.get("/logout").await;
    let mut fields = crate::user_agent::form_inputs(&logout.body, "/logout");
    fields.push(("email".to_owned(), "dana@platform.example".to_owned()));
    fields.push(("password".to_owned(), "whatever password".to_owned()));
    let refused = stranger.post_form("/login", &fields).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("Passwords are not accepted here"),
        "{}",
        refused.body
    );
}

async fn delegated_sign_in_verifies_an_ed25519_public_key_and_refuses_hs256(backend: Backend) {
    let pair = Ed25519KeyPair::generate().unwrap();
    let der = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key()).unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der.as_ref())
    );
    let login = RawLogin {
        mode: Some("delegate".into()),
        delegate_url: Some(PLATFORM_LOGIN.into()),
        delegate_issuer: Some("https://accounts.platform.example".into()),
        delegate_public_key_pem: Some(pem),
        ..RawLogin::default()
    };
    let app = TestApp::spawn_with(backend, delegate_login(login)).await;
    let platform = PlatformKey::Ed25519(pair);
    let mut agent = UserAgent::new(&app.base_url);

    // An HS256 assertion — even one keyed with the public key's bytes — is
    // refused: the key fixes the algorithm.
    let (challenge, return_to) = go_to_platform(&mut agent, "/login?return_to=/settings").await;
    let mut asserted = claims(&app, &challenge, "ed-user", "ed@platform.example");
    asserted["iss"] = json!("https://accounts.platform.example");
    for forged in [PlatformKey::Hs256(SECRET).sign(&asserted), {
        let key = hmac::Key::new(hmac::HMAC_SHA256, der.as_ref());
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": "HS256"}).to_string()),
            URL_SAFE_NO_PAD.encode(asserted.to_string())
        );
        let tag = hmac::sign(&key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }] {
        let page = agent.get(&with_assertion(&return_to, &forged)).await;
        assert_eq!(page.status, 400);
        assert!(page.body.contains("accepts only EdDSA"), "{}", page.body);
    }
    // The issuer is the configured one, not delegate_url's origin.
    let mut wrong_issuer = asserted.clone();
    wrong_issuer["iss"] = json!(PLATFORM);
    let page = agent
        .get(&with_assertion(&return_to, &platform.sign(&wrong_issuer)))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("issued by"), "{}", page.body);

    let back = agent
        .get(&with_assertion(&return_to, &platform.sign(&asserted)))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.location.as_deref(), Some("/settings"));
    let home = agent.follow(back).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("ed@platform.example"), "{}", home.body);
    let user = app.state.store.find_user_by_external_id("ed-user").await.unwrap();
    assert!(user.is_some());
}

async fn refused_assertions_get_a_clear_page_and_create_nothing(backend: Backend) {
    let app = spawn_hs256(backend).await;
    let platform = PlatformKey::Hs256(SECRET);
    let mut agent = UserAgent::new(&app.base_url);
    let (challenge, return_to) = go_to_platform(&mut agent, "/login?return_to=/settings").await;
    let good = claims(&app, &challenge, "refused-user", "refused@platform.example");
    let now = latchkey::unix_now();
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        claims
    };
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad signature",
            PlatformKey::Hs256("another-secret-of-thirty-two-bytes!!").sign(&good),
            "signature is not valid",
        ),
        ("alg none", none, "signed with `none`"),
        (
            "wrong aud",
            platform.sign(&changed(&|c| c["aud"] = json!("https://elsewhere.example"))),
            "`aud` must be this server",
        ),
        (
            "wrong iss",
            platform.sign(&changed(&|c| c["iss"] = json!("https://evil.example"))),
            "issued by `https://evil.example`",
        ),
        (
            "expired",
            platform.sign(&changed(&|c| {
                c["iat"] = json!(now - 300);
                c["exp"] = json!(now - 200);
            })),
            "has expired",
        ),
        (
            "too long-lived",
            platform.sign(&changed(&|c| c["exp"] = json!(now + 3600))),
            "valid for longer than 600 seconds",
        ),
        (
            "wrong challenge",
            platform.sign(&changed(&|c| {
                c["login_challenge"] = json!("lc_not-a-challenge-we-made")
            })),
            "`login_challenge` is unknown",
        ),
        (
            "missing sub",
            platform.sign(&changed(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            })),
            "has no `sub` claim",
        ),
        (
            "missing challenge",
            platform.sign(&changed(&|c| {
                c.as_object_mut().unwrap().remove("login_challenge");
            })),
            "has no `login_challenge` claim",
        ),
        (
            "missing jti",
            platform.sign(&changed(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            })),
            "has no `jti` claim",
        ),
        (
            "missing email",
            platform.sign(&changed(&|c| {
                c.as_object_mut().unwrap().remove("email");
            })),
            "has no `email` claim",
        ),
        (
            "bad organizations",
            platform.sign(&changed(&|c| c["organizations"] = json!([{"name": "No role"}]))),
            "has no `role`",
        ),
        (
            "not a JWT",
            "not-a-jwt".to_owned(),
            "not a well-formed signed JWT",
        ),
    ];
    for (case, assertion, expected) in cases {
        let page = agent.get(&with_assertion(&return_to, &assertion)).await;
        assert_eq!(page.status, 400, "{case}: {}", page.body);
        assert!(page.body.contains(expected), "{case}: {}", page.body);
        assert!(
            page.body.contains("You could not be signed in"),
            "{case}: the heading says what failed: {}",
            page.body
        );
        assert!(
            !page.body.contains(&challenge),
            "{case}: the challenge is not shown"
        );
    }
    let page = agent.get(&return_to).await;
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("without a sign-in `assertion`"),
        "{}",
        page.body
    );
    let store = app.state.store.as_ref();
    assert!(
        store.list_users().await.unwrap().is_empty(),
        "no user was created"
    );
    assert!(store.list_organizations().await.unwrap().is_empty());
    assert!(!agent.has_cookie("latchkey_session"));
    // The refusals left the challenge usable: the good assertion finishes.
    let back = agent
        .get(&with_assertion(&return_to, &platform.sign(&good)))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(agent.has_cookie("latchkey_session"));
}

/// The return from the platform is limited per client address, like the
/// authorization endpoint it follows: over the limit, a page says how long
/// to wait, with `Retry-After`, and nothing is verified or created.
async fn returns_from_the_platform_are_rate_limited(backend: Backend) {
    let options = Options {
        tweak: Some(Box::new(|raw: &mut RawConfig| {
            raw.login = hs256_login();
            raw.rate_limits.authorize_per_minute = Some(2);
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let mut agent = UserAgent::new(&app.base_url);
    let (challenge, return_to) = go_to_platform(&mut agent, "/login?return_to=/settings").await;
    for _ in 0..2 {
        let page = agent.get(&with_assertion(&return_to, "not-a-jwt")).await;
        assert_eq!(page.status, 400, "{}", page.body);
    }
    let good =
        PlatformKey::Hs256(SECRET).sign(&claims(&app, &challenge, "limited", "limited@platform.example"));
    let page = agent.get(&with_assertion(&return_to, &good)).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.body.contains("Too many sign-ins"), "{}", page.body);
    let retry_after: i64 = page.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(app.state.store.list_users().await.unwrap().is_empty());
    assert!(!agent.has_cookie("latchkey_session"));
}

async fn challenges_and_assertion_ids_are_single_use(backend: Backend) {
    let app = spawn_hs256(backend).await;
    let platform = PlatformKey::Hs256(SECRET);
    let mut agent = UserAgent::new(&app.base_url);
    let (challenge, return_to) = go_to_platform(&mut agent, "/login?return_to=/settings").await;
    let first = claims(&app, &challenge, "replay-user", "replay@platform.example");
    let assertion = platform.sign(&first);
    let back = agent.get(&with_assertion(&return_to, &assertion)).await;
    assert_eq!(back.status, 303, "{}", back.body);

    // The same assertion again: its challenge is spent.
    let replay = agent.get(&with_assertion(&return_to, &assertion)).await;
    assert_eq!(replay.status, 400);
    assert!(
        replay.body.contains("unknown or was used already"),
        "{}",
        replay.body
    );

    // A fresh challenge with the first assertion's jti: the jti is spent.
    let (challenge, return_to) = go_to_platform(&mut agent, "/login?return_to=/settings").await;
    let mut second = claims(&app, &challenge, "replay-user", "replay@platform.example");
    second["jti"] = first["jti"].clone();
    let replay = agent
        .get(&with_assertion(&return_to, &platform.sign(&second)))
        .await;
    assert_eq!(replay.status, 400);
    assert!(replay.body.contains("used before"), "{}", replay.body);
    // That refusal left the challenge alone: a new jti finishes.
    second["jti"] = json!("another-jti");
    let back = agent
        .get(&with_assertion(&return_to, &platform.sign(&second)))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
}

async fn a_challenge_only_finishes_in_the_browser_that_started_it(backend: Backend) {
    let app = spawn_hs256(backend).await;
    let platform = PlatformKey::Hs256(SECRET);
    let mut victim = UserAgent::new(&app.base_url);
    let (challenge, return_to) = go_to_platform(&mut victim, "/login?return_to=/settings").await;
    let assertion = platform.sign(&claims(&app, &challenge, "bound-user", "bound@platform.example"));

    // A browser without the cookie.
    let mut bare = UserAgent::new(&app.base_url);
    let page = bare.get(&with_assertion(&return_to, &assertion)).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("no sign-in cookie"), "{}", page.body);
    // A browser with a cookie of its own (it started another sign-in).
    let mut other = UserAgent::new(&app.base_url);
    go_to_platform(&mut other, "/login?return_to=/settings").await;
    let page = other.get(&with_assertion(&return_to, &assertion)).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("started in another browser"), "{}", page.body);
    assert!(!other.has_cookie("latchkey_session"));
    assert!(app.state.store.list_users().await.unwrap().is_empty());

    // The browser that started it finishes.
    let back = victim.get(&with_assertion(&return_to, &assertion)).await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(victim.has_cookie("latchkey_session"));
}

fn validate(login: RawLogin) -> Result<latchkey::config::Config, String> {
    let raw = RawConfig {
        login,
        ..RawConfig::default()
    };
    raw.validate().map_err(|e| e.to_string())
}

#[test]
fn delegate_mode_needs_a_url_and_exactly_one_long_enough_key() {
    let error = validate(RawLogin {
        delegate_url: None,
        ..hs256_login()
    })
    .unwrap_err();
    assert!(error.contains("`login.delegate_url` is required"), "{error}");
    let error = validate(RawLogin {
        delegate_hs256_secret: None,
        ..hs256_login()
    })
    .unwrap_err();
    assert!(
        error.contains("login.delegate_hs256_secret") && error.contains("login.delegate_public_key_pem"),
        "{error}"
    );
    let error = validate(RawLogin {
        delegate_hs256_secret: Some(Secret::new("too short a secret")),
        ..hs256_login()
    })
    .unwrap_err();
    assert!(error.contains("shorter than 32 bytes"), "{error}");
    let error = validate(RawLogin {
        delegate_public_key_pem: Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----".into()),
        ..hs256_login()
    })
    .unwrap_err();
    assert!(error.contains("set only one"), "{error}");
    let error = validate(RawLogin {
        delegate_hs256_secret: None,
        delegate_public_key_pem: Some("garbage".into()),
        ..hs256_login()
    })
    .unwrap_err();
    assert!(error.contains("not a PEM public key"), "{error}");
    let error = validate(RawLogin {
        delegate_url: Some("http://platform.example/login".into()),
        ..hs256_login()
    })
    .unwrap_err();
    assert!(error.contains("must use https"), "{error}");
    let error = validate(RawLogin {
        mode: Some("sso".into()),
        ..RawLogin::default()
    })
    .unwrap_err();
    assert!(error.contains("expected `local` or `delegate`"), "{error}");

    let config = validate(hs256_login()).unwrap();
    let latchkey::config::LoginMode::Delegate(delegate) = &config.login.mode else {
        panic!("delegate mode");
    };
    assert_eq!(delegate.issuer, PLATFORM, "the login URL's origin by default");
    let config = validate(RawLogin::default()).unwrap();
    assert!(matches!(config.login.mode, latchkey::config::LoginMode::Local));
}

/// An EdDSA assertion naming its key by `kid`.
fn sign_with_kid(pair: &Ed25519KeyPair, kid: &str, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = pair.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// `login.delegate_jwks_url`: the platform publishes its keys; an
/// assertion is checked with the key its `kid` names (fetched from a JWKS
/// server the test runs on loopback), one signed by a key the set does not
/// have is refused after one fetch more, and the set is fetched no more
/// often than that.
async fn delegated_sign_in_verifies_with_the_platforms_jwks(backend: Backend) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let pair = Ed25519KeyPair::generate().unwrap();
    let jwks = json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "platform-1",
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    }]});
    let fetches = Arc::new(AtomicUsize::new(0));
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get({
            let fetches = Arc::clone(&fetches);
            move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!(
        "http://127.0.0.1:{}/jwks.json",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, router).await });

    let login = RawLogin {
        mode: Some("delegate".into()),
        delegate_url: Some(PLATFORM_LOGIN.into()),
        delegate_jwks_url: Some(jwks_url),
        ..RawLogin::default()
    };
    let app = TestApp::spawn_with(backend, delegate_login(login)).await;
    let mut agent = UserAgent::new(&app.base_url);

    // A key the platform does not publish: refused, nothing created.
    let (challenge, return_to) = go_to_platform(&mut agent, "/login?return_to=/settings").await;
    let asserted = claims(&app, &challenge, "jwks-user", "jwks@platform.example");
    let stranger = Ed25519KeyPair::generate().unwrap();
    let page = agent
        .get(&with_assertion(
            &return_to,
            &sign_with_kid(&stranger, "platform-2", &asserted),
        ))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("published keys"), "{}", page.body);
    let fetched = fetches.load(Ordering::SeqCst);
    assert!((1..=2).contains(&fetched), "{fetched} fetches");
    // The published key's kid with the wrong key: refused too, and no
    // fetch more (within 30 s of the last).
    let page = agent
        .get(&with_assertion(
            &return_to,
            &sign_with_kid(&stranger, "platform-1", &asserted),
        ))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("signature"), "{}", page.body);
    assert_eq!(fetches.load(Ordering::SeqCst), fetched);
    assert!(
        app.state
            .store
            .find_user_by_external_id("jwks-user")
            .await
            .unwrap()
            .is_none()
    );

    // Signed by the published key: signed in, with the cached set.
    let back = agent
        .get(&with_assertion(
            &return_to,
            &sign_with_kid(&pair, "platform-1", &asserted),
        ))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.location.as_deref(), Some("/settings"));
    assert_eq!(fetches.load(Ordering::SeqCst), fetched);
    assert!(
        app.state
            .store
            .find_user_by_external_id("jwks-user")
            .await
            .unwrap()
            .is_some()
    );
}
