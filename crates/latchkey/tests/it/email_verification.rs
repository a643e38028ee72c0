//! Email verification: a user created through the admin API with
//! `emailVerified: false` is mailed a link; opening it changes nothing
//! (mail scanners follow links), its button confirms the address, and the
//! `email_verified` claim of userinfo and of new ID tokens follows. A
//! signed-in user can ask for a new link from Settings → Password. With
//! delegated sign-in there is no password page and no reset.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::password_reset::app_with_mail;
use crate::seed_integrations::{authorize_url, register, token_form};
use crate::smtp_sink::SmtpSink;
use crate::user_agent::{UserAgent, hidden_inputs, query_of};

backend_tests!(
    a_new_unverified_user_confirms_their_address_and_the_claim_follows,
    a_signed_in_unverified_user_asks_for_a_new_link,
    with_delegated_sign_in_there_is_no_password_page_reset_or_second_factor,
);

const VERA: (&str, &str) = ("vera@example.com", "vera's long password");
const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// Creates vera (unverified) as a member of a new organization.
async fn create_vera(app: &TestApp) -> (u16, Value) {
    let (status, org) = app
        .admin(Method::POST, "/organizations", Some(json!({"name": "Vera & Co"})))
        .await;
    assert_eq!(status, 201);
    let body = json!({"email": VERA.0, "name": "Vera", "password": VERA.1, "emailVerified": false});
    let (status, user) = app.admin(Method::POST, "/users", Some(body)).await;
    let user_id = user["data"]["id"].as_str().unwrap().to_owned();
    let org_id = org["data"]["id"].as_str().unwrap();
    let (added, _) = app
        .admin(
            Method::POST,
            &format!("/organizations/{org_id}/members"),
            Some(json!({"userId": user_id, "role": "member"})),
        )
        .await;
    assert_eq!(added, 201);
    (status, user)
}

/// Vera authorizes a client; the token response.
async fn tokens_for_vera(app: &TestApp, client_id: &str, secret: &str) -> Value {
    let url = authorize_url(
        app,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("nonce", "n-0S6_WzA2Mj"),
        ],
    );
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent.authorize(&url, VERA, "approve", None).await;
    let code = query_of(&done.location.unwrap())["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id),
        ("client_secret", secret),
    ];
    let (status, tokens, _) = token_form(app, &fields).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn userinfo(app: &TestApp, access_token: &str) -> Value {
    let response = app
        .http
        .get(app.url(&app.state.config.paths.userinfo))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn id_token_claims(tokens: &Value) -> Value {
    let payload = tokens["id_token"].as_str().unwrap().split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn user_verified(app: &TestApp, id: &str) -> bool {
    let (status, user) = app.admin(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!(status, 200, "{user}");
    user["data"]["emailVerified"].as_bool().unwrap()
}

async fn a_new_unverified_user_confirms_their_address_and_the_claim_follows(backend: Backend) {
    let (app, sink) = app_with_mail(backend).await;
    let (status, user) = create_vera(&app).await;
    assert_eq!(status, 201, "{user}");
    assert!(
        user["message"]
            .as_str()
            .unwrap()
            .contains("confirm the email address"),
        "{user}"
    );
    let user_id = user["data"]["id"].as_str().unwrap().to_owned();
    let mail = sink.wait_for(1).await.remove(0);
    assert!(mail.to[0].contains(VERA.0));
    let link = mail
        .link(&app.url("/verify-email?token=vfy_"))
        .expect("a verification link");

    let (client_id, secret) = register(&app, &[REDIRECT], &["openid", "email"]).await;
    let before = tokens_for_vera(&app, &client_id, &secret).await;
    assert_eq!(
        userinfo(&app, before["access_token"].as_str().unwrap()).await["email_verified"],
        false
    );
    assert_eq!(id_token_claims(&before)["email_verified"], false);

    // Opening the link changes nothing; its button does.
    let mut agent = UserAgent::new(&app.base_url);
    let page = agent.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Confirm your email address</h1>"));
    assert!(page.body.contains(VERA.0));
    assert!(!user_verified(&app, &user_id).await);
    let refused = agent
        .post_form(
            "/verify-email",
            &[("token".into(), link.split("token=").nth(1).unwrap().into())],
        )
        .await;
    assert_eq!(refused.status, 400, "without its CSRF token");
    let done = agent.post_form("/verify-email", &hidden_inputs(&page.body)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Email address confirmed"));
    assert!(user_verified(&app, &user_id).await);

    // The claim follows, in userinfo for the token issued before and in a
    // new ID token.
    assert_eq!(
        userinfo(&app, before["access_token"].as_str().unwrap()).await["email_verified"],
        true
    );
    let after = tokens_for_vera(&app, &client_id, &secret).await;
    assert_eq!(id_token_claims(&after)["email_verified"], true);

    // Once only.
    assert_eq!(agent.get(&link).await.status, 410);
    assert_eq!(
        agent
            .post_form("/verify-email", &hidden_inputs(&page.body))
            .await
            .status,
        410
    );
    let (_, events) = app.admin(Method::GET, "/audit-events", None).await;
    let actions: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"user.email_verified") && actions.contains(&"user.email_verification_sent"));

    // A verified user, and a user created without mail configured, get none.
    let body = json!({"email": "val@example.com", "name": "Val", "password": VERA.1, "emailVerified": true});
    assert_eq!(app.admin(Method::POST, "/users", Some(body)).await.0, 201);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
}

async fn a_signed_in_unverified_user_asks_for_a_new_link(backend: Backend) {
    let (app, sink) = app_with_mail(backend).await;
    create_vera(&app).await;
    sink.wait_for(1).await;
    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    assert_eq!(agent.sign_in(&login, VERA.0, VERA.1).await.status, 303);
    let page = agent.get("/settings/password").await;
    assert!(page.body.contains("is not confirmed yet"), "{}", page.body);
    let form = page
        .body
        .split("action=\"/settings/password/verify-email\"")
        .nth(1)
        .unwrap();
    let sent = agent
        .post_form("/settings/password/verify-email", &hidden_inputs(form))
        .await;
    assert_eq!(sent.status, 303);
    let page = agent.follow(sent).await;
    assert!(page.body.contains("We sent a new confirmation link"));
    let mails = sink.wait_for(2).await;
    let link = mails[1].link(&app.url("/verify-email?token=")).unwrap();
    let confirm = agent.get(&link).await;
    let done = agent
        .post_form("/verify-email", &hidden_inputs(&confirm.body))
        .await;
    assert_eq!(done.status, 200);
    let page = agent.get("/settings/password").await;
    assert!(!page.body.contains("is not confirmed yet"));
}

async fn with_delegated_sign_in_there_is_no_password_page_reset_or_second_factor(backend: Backend) {
    let sink = SmtpSink::start().await;
    let options = Options {
        tweak: Some(Box::new(move |raw| {
            sink.configure(raw);
            raw.login.mode = Some("delegate".into());
            raw.login.delegate_url = Some("https://platform.example.com/oauth/login".into());
            raw.login.delegate_hs256_secret = Some(latchkey::secret::Secret::new(
                "a-shared-secret-of-at-least-32-bytes!!",
            ));
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let alice =
        latchkey::store::AccountStore::find_user_by_email(app.state.store.as_ref(), "alice@example.com")
            .await
            .unwrap()
            .unwrap();
    let session = latchkey::accounts::sessions::start(
        app.state.store.as_ref(),
        &alice.id,
        None,
        vec!["pwd".into()],
        latchkey::unix_now(),
    )
    .await
    .unwrap();
    let mut agent = UserAgent::new(&app.base_url);
    agent.set_cookie("latchkey_session", session.expose());
    let sessions = agent.get("/settings/sessions").await;
    assert_eq!(sessions.status, 200, "{}", sessions.body);
    assert!(!sessions.body.contains("/settings/password"));
    assert_eq!(agent.get("/settings/password").await.status, 404);
    assert_eq!(agent.get("/login/forgot").await.status, 404);
    // Nor a second factor: the platform's login never asks for one.
    assert!(!sessions.body.contains("/settings/two-step"));
    assert_eq!(agent.get("/settings/two-step").await.status, 404);
}
