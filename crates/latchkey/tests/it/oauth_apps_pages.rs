//! Settings → OAuth Apps, driven over HTTP as a person would: the Create
//! app form, the secret shown exactly once, the app working at the token
//! endpoint, validation beside the field, Edit, Rotate secret, Disable and
//! Enable, Delete; members who are not admins see apps read-only, an admin
//! of another organization sees nothing, and every form needs its CSRF
//! token.

use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::seed_integrations::{authorize_url, obtain_code};
use crate::user_agent::{
    ALICE, Page, UserAgent, element_text, form_inputs, has_form, links, query_of, unescape,
};

backend_tests!(
    created_app_shows_its_secret_once_and_works_at_the_token_endpoint,
    refused_redirect_uri_is_shown_beside_its_field_with_everything_kept,
    edit_changes_the_app_and_shows_errors_beside_the_field,
    machine_access_is_off_by_default_and_set_in_the_form,
    rotating_refuses_the_old_secret_and_keeps_connections,
    disable_ends_tokens_and_enable_revives_none,
    delete_removes_the_app_its_grants_and_tokens,
    members_who_are_not_admins_see_apps_read_only,
    an_admin_of_another_organization_gets_404_for_every_view_and_change,
    every_dashboard_form_refuses_a_missing_or_foreign_csrf_token,
);

/// Acme Legal in the demo data: alice is its FIRM_ADMIN.
pub const ACME: &str = "3f1c2a10-5b7e-4c1d-9a00-00000000ac01";
/// Birch & Partners in the demo data: alice is an ATTORNEY there.
pub const BIRCH: &str = "3f1c2a10-5b7e-4c1d-9a00-00000000b102";
const APPS: &str = "/settings/oauth-apps";
const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// A browser signed in as `user`, and the OAuth Apps page it landed on
/// (going there first, through the sign-in page and back).
pub async fn signed_in(app: &TestApp, user: (&str, &str), start: &str) -> (UserAgent, Page) {
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent.get(start).await;
    assert_eq!(first.status, 303, "signed out, {start} leads to sign-in");
    let login = agent.follow(first).await;
    let back = agent.sign_in(&login, user.0, user.1).await;
    assert_eq!(back.status, 303, "sign-in failed: {}", back.body);
    let page = agent.follow(back).await;
    (agent, page)
}

/// The Create app form's fields as a person fills them in.
fn app_fields(name: &str, redirect_uris: &str, scopes: &[&str]) -> Vec<(String, String)> {
    let mut fields = vec![
        ("name".to_owned(), name.to_owned()),
        (
            "description".to_owned(),
            "Moves new clients into your CRM.".to_owned(),
        ),
        ("homepage_url".to_owned(), "https://yourapp.com".to_owned()),
        ("logo_url".to_owned(), String::new()),
        ("redirect_uris".to_owned(), redirect_uris.to_owned()),
    ];
    fields.extend(scopes.iter().map(|s| ("scopes".to_owned(), (*s).to_owned())));
    fields
}

/// An app made through the Create app form by `agent`; returns the page
/// that answered the form, the client_id and the secret it showed.
pub async fn create_app(agent: &mut UserAgent, organization: &str, name: &str) -> (Page, String, String) {
    let form = agent
        .get(&format!("{APPS}/new?organization={organization}"))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    let mut fields = form_inputs(&form.body, &format!("{APPS}/new"));
    fields.extend(app_fields(
        name,
        &format!("{REDIRECT}\nhttp://localhost:3000/callback\n"),
        &["openid", "email", "cases:read"],
    ));
    let created = agent.post_form(&format!("{APPS}/new"), &fields).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let client_id = element_text(&created.body, "client-id").unwrap();
    let secret = element_text(&created.body, "client-secret").unwrap();
    (created, client_id, secret)
}

/// Exchanges `code` with HTTP Basic (the dashboard's apps use
/// client_secret_basic); returns (status, JSON).
async fn exchange(app: &TestApp, client_id: &str, secret: &str, code: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(&app.state.config.paths.token))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Alice authorizes the app for Acme Legal; returns its token response.
async fn tokens_for(app: &TestApp, client_id: &str, secret: &str) -> Value {
    let code = obtain_code(
        app,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email cases:read"),
            ("state", "dashboard-state"),
        ],
    )
    .await;
    let (status, tokens) = exchange(app, client_id, secret, &code).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn app_page(client_id: &str) -> String {
    format!("{APPS}/{client_id}")
}

/// Submits the form of `page` that posts to `action`.
async fn submit(agent: &mut UserAgent, page: &Page, action: &str) -> Page {
    let fields = form_inputs(&page.body, action);
    agent.post_form(action, &fields).await
}

async fn created_app_shows_its_secret_once_and_works_at_the_token_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, list) = signed_in(&app, ALICE, APPS).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("<h1>OAuth Apps</h1>"));
    // Alice belongs to two organizations: a picker, Acme Legal (which she
    // administers) first, Birch & Partners read-only.
    assert!(list.body.contains("name=\"organization\""), "{}", list.body);
    assert!(unescape(&list.body).contains("Birch & Partners (view only)"));
    let create = format!("{APPS}/new?organization={ACME}");
    assert!(links(&list.body).contains(&create), "{}", list.body);
    assert!(list.body.contains(">Create app</a>"));

    let form = agent.get(&create).await;
    assert_eq!(form.status, 200);
    for label in [
        ">App name</label>",
        ">Description</label>",
        ">Homepage URL</label>",
        ">Logo URL</label>",
        ">Redirect URIs</label>",
        "<legend>Scopes</legend>",
        ">Create app</button>",
        "One per line.",
    ] {
        assert!(form.body.contains(label), "{label} in {}", form.body);
    }
    // Every scope of the vocabulary, with its description.
    let text = unescape(&form.body);
    for scope in &app.state.config.scopes {
        assert!(form.body.contains(&format!("value=\"{}\"", scope.name)));
        assert!(text.contains(&scope.description), "{}", scope.description);
    }

    let (created, client_id, secret) = create_app(&mut agent, ACME, "Zapier Automation").await;
    assert!(created.location.is_none(), "answered directly, never redirected");
    assert_eq!(created.headers["cache-control"], "no-store");
    assert!(client_id.starts_with("client_") && secret.starts_with("secret_"));
    assert_eq!(
        created.body.matches(&secret).count(),
        1,
        "the secret appears once"
    );
    assert!(created.body.contains("cannot be shown again"));
    assert!(
        created.body.contains("data-copy=\"client-secret\""),
        "a copy button"
    );
    assert!(
        created
            .body
            .contains("<script src=\"/static/copy.js\" defer></script>")
    );

    // Owned by Acme Legal, confidential with client_secret_basic.
    let record = app.state.store.find_client(&client_id).await.unwrap().unwrap();
    assert_eq!(record.organization_id.as_deref(), Some(ACME));
    assert_eq!(record.token_endpoint_auth_method, "client_secret_basic");
    assert_eq!(record.redirect_uris, [REDIRECT, "http://localhost:3000/callback"]);
    assert_eq!(record.allowed_scopes, ["openid", "email", "cases:read"]);

    // A reload shows the app but never the secret.
    let again = agent.get(&app_page(&client_id)).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains(&client_id) && again.body.contains("Zapier Automation"));
    assert!(!again.body.contains(&secret), "the secret is shown exactly once");
    assert!(element_text(&again.body, "client-secret").is_none());
    let list = agent.get(APPS).await;
    assert!(list.body.contains("Zapier Automation") && list.body.contains("Enabled"));
    assert!(list.body.contains(&client_id) && !list.body.contains(&secret));

    // The credentials work at the token endpoint after an authorization.
    let tokens = tokens_for(&app, &client_id, &secret).await;
    assert_eq!(
        app.userinfo_status(tokens["access_token"].as_str().unwrap())
            .await,
        200
    );

    // The stylesheet and the copy script are served; the pages allow
    // scripts from this server only.
    let script = app.http.get(app.url("/static/copy.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let csp = again.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}

async fn refused_redirect_uri_is_shown_beside_its_field_with_everything_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, _) = signed_in(&app, ALICE, APPS).await;
    let form = agent.get(&format!("{APPS}/new?organization={ACME}")).await;
    let mut fields = form_inputs(&form.body, &format!("{APPS}/new"));
    fields.extend(app_fields(
        "Kept <Name>",
        "https://ok.example/cb\nhttp://yourapp.com/callback",
        &["email", "cases:write"],
    ));
    let refused = agent.post_form(&format!("{APPS}/new"), &fields).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let body = &refused.body;
    let message = element_text(body, "redirect_uris-error").unwrap();
    assert!(
        message.contains("http://yourapp.com/callback") && message.contains("must use https"),
        "{message}"
    );
    // Beside the field: after the Redirect URIs textarea, before the next
    // field, and the field is marked invalid.
    let field = body.find("id=\"redirect_uris\"").unwrap();
    let error = body.find("id=\"redirect_uris-error\"").unwrap();
    let scopes = body.find("<legend>Scopes</legend>").unwrap();
    assert!(field < error && error < scopes);
    assert!(body[field..error].contains("aria-invalid=\"true\""));
    assert_eq!(body.matches("class=\"field-error\"").count(), 1);
    // Everything typed is kept, escaped.
    assert!(!body.contains("Kept <Name>"), "escaped");
    assert!(unescape(body).contains("value=\"Kept <Name>\""), "{body}");
    assert!(body.contains(">Moves new clients into your CRM.</textarea>"));
    assert!(body.contains("value=\"https://yourapp.com\""));
    assert!(body.contains(">https://ok.example/cb\nhttp://yourapp.com/callback</textarea>"));
    assert!(body.contains("value=\"email\" checked") && body.contains("value=\"cases:write\" checked"));
    assert!(!body.contains("value=\"openid\" checked"));
    assert!(
        app.state
            .store
            .list_organization_clients(ACME)
            .await
            .unwrap()
            .is_empty()
    );

    // Other refusals land beside their own fields.
    let mut fields = form_inputs(&form.body, &format!("{APPS}/new"));
    fields.extend(app_fields("   ", REDIRECT, &["openid"]));
    let refused = agent.post_form(&format!("{APPS}/new"), &fields).await;
    assert_eq!(refused.status, 400);
    assert!(
        element_text(&refused.body, "name-error")
            .unwrap()
            .contains("must not be empty")
    );
    let mut fields = form_inputs(&form.body, &format!("{APPS}/new"));
    fields.extend(app_fields("No scopes", REDIRECT, &[]));
    let refused = agent.post_form(&format!("{APPS}/new"), &fields).await;
    assert_eq!(refused.status, 400);
    assert!(
        element_text(&refused.body, "scopes-error").is_some(),
        "{}",
        refused.body
    );
}

async fn edit_changes_the_app_and_shows_errors_beside_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, _) = signed_in(&app, ALICE, APPS).await;
    let (_, client_id, secret) = create_app(&mut agent, ACME, "Zapier Automation").await;
    let page = agent.get(&app_page(&client_id)).await;
    let edit = format!("{}/edit", app_page(&client_id));
    assert!(links(&page.body).contains(&edit), "an Edit link");

    let form = agent.get(&edit).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(">Save changes</button>"));
    assert!(form.body.contains("value=\"Zapier Automation\""), "prefilled");
    assert!(
        form.body
            .contains(&format!(">{REDIRECT}\nhttp://localhost:3000/callback</textarea>"))
    );
    assert!(
        form.body.contains("value=\"cases:read\" checked")
            && !form.body.contains("value=\"profile\" checked")
    );
    assert!(!form.body.contains(&secret));

    let mut fields = form_inputs(&form.body, &edit);
    fields.extend(app_fields("Zapier Pro", REDIRECT, &["openid", "profile"]));
    let saved = agent.post_form(&edit, &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let shown = agent.follow(saved).await;
    assert!(shown.body.contains("Changes saved.") && shown.body.contains("<h1>Zapier Pro</h1>"));
    let record = app.state.store.find_client(&client_id).await.unwrap().unwrap();
    assert_eq!(record.redirect_uris, [REDIRECT]);
    assert_eq!(record.allowed_scopes, ["openid", "profile"]);
    assert_eq!(record.homepage_url.as_deref(), Some("https://yourapp.com"));

    // A refused logo URL: the message beside Logo URL, the values kept,
    // nothing changed.
    let mut fields = form_inputs(&form.body, &edit);
    fields.extend(app_fields("Zapier Again", REDIRECT, &["openid"]));
    for (name, value) in &mut fields {
        if name == "logo_url" {
            *value = "javascript:alert(1)".into();
        }
    }
    let refused = agent.post_form(&edit, &fields).await;
    assert_eq!(refused.status, 400);
    assert!(
        element_text(&refused.body, "logo_url-error").is_some(),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"Zapier Again\"")
            && refused.body.contains("value=\"javascript:alert(1)\"")
    );
    let record = app.state.store.find_client(&client_id).await.unwrap().unwrap();
    assert_eq!(record.name, "Zapier Pro");
}

/// A client_credentials token request with HTTP Basic: (status, JSON).
async fn machine_token(app: &TestApp, client_id: &str, secret: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(&app.state.config.paths.token))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn machine_access_is_off_by_default_and_set_in_the_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, _) = signed_in(&app, ALICE, APPS).await;

    // An app made for the user flow is not allowed client_credentials.
    let (created, client_id, secret) = create_app(&mut agent, ACME, "Zapier Automation").await;
    assert!(created.body.contains("<dt>Machine-to-machine access</dt>"));
    assert!(created.body.contains("Not allowed"), "{}", created.body);
    let (status, refused) = machine_token(&app, &client_id, &secret).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("unauthorized_client"))
    );

    // The Create app form offers it, unticked.
    let form = agent.get(&format!("{APPS}/new?organization={ACME}")).await;
    assert!(
        form.body
            .contains("<input type=\"checkbox\" name=\"machine_access\" value=\"on\">"),
        "{}",
        form.body
    );
    assert!(
        form.body
            .contains("Machine-to-machine access (client credentials)")
    );
    let mut fields = form_inputs(&form.body, &format!("{APPS}/new"));
    fields.extend(app_fields("Nightly sync", REDIRECT, &["openid", "cases:read"]));
    fields.push(("machine_access".to_owned(), "on".to_owned()));
    let made = agent.post_form(&format!("{APPS}/new"), &fields).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(
        made.body.contains("<code>client_credentials</code>"),
        "{}",
        made.body
    );
    let machine_id = element_text(&made.body, "client-id").unwrap();
    let machine_secret = element_text(&made.body, "client-secret").unwrap();
    let record = app.state.store.find_client(&machine_id).await.unwrap().unwrap();
    assert_eq!(record.organization_id.as_deref(), Some(ACME));
    let (status, tokens) = machine_token(&app, &machine_id, &machine_secret).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = crate::relying_party::jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["sub"].as_str(), claims["firm_id"].as_str()),
        (Some(machine_id.as_str()), Some(ACME))
    );
    assert_eq!(claims["scope"], "cases:read");

    // Edit shows it ticked; unticking it takes it away and ends the tokens.
    let edit = format!("{}/edit", app_page(&machine_id));
    let form = agent.get(&edit).await;
    assert!(
        form.body.contains("name=\"machine_access\" value=\"on\" checked"),
        "{}",
        form.body
    );
    let mut fields = form_inputs(&form.body, &edit);
    fields.extend(app_fields("Nightly sync", REDIRECT, &["openid", "cases:read"]));
    let saved = agent.post_form(&edit, &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let record = app.state.store.find_client(&machine_id).await.unwrap().unwrap();
    assert_eq!(
        record.grant_types,
        latchkey::oauth::grant_type::GrantType::DEFAULT,
        "the user flows stay"
    );
    let access = tokens["access_token"].as_str().unwrap();
    let response = app
        .http
        .get(app.url("/api/v1/cases"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, refused) = machine_token(&app, &machine_id, &machine_secret).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

async fn rotating_refuses_the_old_secret_and_keeps_connections(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, _) = signed_in(&app, ALICE, APPS).await;
    let (_, client_id, old_secret) = create_app(&mut agent, ACME, "Zapier Automation").await;
    let before = tokens_for(&app, &client_id, &old_secret).await;

    let page = agent.get(&app_page(&client_id)).await;
    assert!(page.body.contains("<details class=\"confirm\">") && page.body.contains("Rotate secret…"));
    assert!(page.body.contains("stops working at once") && page.body.contains("stay connected"));
    let rotate = format!("{}/rotate-secret", app_page(&client_id));
    let rotated = submit(&mut agent, &page, &rotate).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = element_text(&rotated.body, "client-secret").unwrap();
    assert_ne!(new_secret, old_secret);
    assert_eq!(rotated.body.matches(&new_secret).count(), 1);
    assert!(rotated.body.contains("cannot be shown again"));
    assert!(
        !agent.get(&app_page(&client_id)).await.body.contains(&new_secret),
        "once"
    );

    // The old secret is refused at once; the new one works.
    let code = obtain_code(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ],
    )
    .await;
    let (status, refused) = exchange(&app, &client_id, &old_secret, &code).await;
    assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_client")));
    let (status, tokens) = exchange(&app, &client_id, &new_secret, &code).await;
    assert_eq!(status, 200, "{tokens}");
    // The connection made before the rotation still works.
    assert_eq!(
        app.userinfo_status(before["access_token"].as_str().unwrap())
            .await,
        200
    );
}

async fn disable_ends_tokens_and_enable_revives_none(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, _) = signed_in(&app, ALICE, APPS).await;
    let (_, client_id, secret) = create_app(&mut agent, ACME, "Zapier Automation").await;
    let tokens = tokens_for(&app, &client_id, &secret).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo_status(access).await, 200);

    let page = agent.get(&app_page(&client_id)).await;
    assert!(
        page.body.contains("stops working at once") && page.body.contains("does not bring those tokens back")
    );
    let disable = format!("{}/disable", app_page(&client_id));
    let disabled = submit(&mut agent, &page, &disable).await;
    assert_eq!(disabled.status, 303);
    let page = agent.follow(disabled).await;
    assert!(
        page.body.contains("class=\"status disabled\">Disabled"),
        "{}",
        page.body
    );
    assert!(has_form(&page.body, &format!("{}/enable", app_page(&client_id))));
    assert_eq!(
        app.userinfo_status(access).await,
        401,
        "the user's token is refused"
    );
    let list = agent.get(APPS).await;
    assert!(list.body.contains("Disabled"));
    // No new authorizations.
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ],
    );
    let refused = UserAgent::new(&app.base_url).get(&url).await;
    assert!(
        refused.location.is_none() && refused.status >= 400,
        "{}",
        refused.status
    );

    let enabled = submit(&mut agent, &page, &format!("{}/enable", app_page(&client_id))).await;
    assert_eq!(enabled.status, 303);
    let page = agent.follow(enabled).await;
    assert!(page.body.contains("class=\"status enabled\">Enabled"));
    assert_eq!(
        app.userinfo_status(access).await,
        401,
        "enabling revives no token"
    );
    let fresh = tokens_for(&app, &client_id, &secret).await;
    assert_eq!(
        app.userinfo_status(fresh["access_token"].as_str().unwrap()).await,
        200
    );
}

async fn delete_removes_the_app_its_grants_and_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, _) = signed_in(&app, ALICE, APPS).await;
    let (_, client_id, secret) = create_app(&mut agent, ACME, "Zapier Automation").await;
    let tokens = tokens_for(&app, &client_id, &secret).await;
    let page = agent.get(&app_page(&client_id)).await;
    assert!(page.body.contains("Delete…") && page.body.contains("every grant"));
    let deleted = submit(&mut agent, &page, &format!("{}/delete", app_page(&client_id))).await;
    assert_eq!(deleted.status, 303);
    let list = agent.follow(deleted).await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("The app was deleted"), "{}", list.body);
    assert!(!list.body.contains(&client_id));
    assert_eq!(agent.get(&app_page(&client_id)).await.status, 404);
    assert!(app.state.store.find_client(&client_id).await.unwrap().is_none());
    assert_eq!(
        app.userinfo_status(tokens["access_token"].as_str().unwrap())
            .await,
        401
    );
    let response = app
        .http
        .post(app.url(&app.state.config.paths.token))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

/// Every change an app page offers, as (path, fields besides the token).
fn mutations(client_id: &str, organization: &str) -> Vec<(String, Vec<(String, String)>)> {
    let app = app_page(client_id);
    let mut create = app_fields("Sneaky", REDIRECT, &["openid"]);
    create.push(("organization".into(), organization.into()));
    vec![
        (format!("{APPS}/new"), create),
        (
            format!("{app}/edit"),
            app_fields("Renamed", REDIRECT, &["openid"]),
        ),
        (format!("{app}/rotate-secret"), Vec::new()),
        (format!("{app}/disable"), Vec::new()),
        (format!("{app}/enable"), Vec::new()),
        (format!("{app}/delete"), Vec::new()),
    ]
}

/// Posts each change with this browser's own valid CSRF token, expecting
/// the 404 page.
async fn every_change_is_not_found(
    agent: &mut UserAgent,
    token_page: &Page,
    client_id: &str,
    organization: &str,
) {
    let token = form_inputs(&token_page.body, "/logout");
    for (path, fields) in mutations(client_id, organization) {
        let mut fields = fields;
        fields.extend(token.clone());
        let answer = agent.post_form(&path, &fields).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert!(answer.body.contains("Page not found"), "{path}");
    }
}

/// The app as it was made: named, enabled, its secret unchanged.
async fn unchanged(app: &TestApp, client_id: &str, secret: &str) {
    let record = app.state.store.find_client(client_id).await.unwrap().unwrap();
    assert_eq!(record.name, "Zapier Automation");
    assert!(record.enabled);
    assert_eq!(
        record.secret_digest,
        Some(latchkey::secret::Secret::new(secret).digest())
    );
    assert_eq!(
        app.state
            .store
            .list_organization_clients(ACME)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn members_who_are_not_admins_see_apps_read_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut alice, _) = signed_in(&app, ALICE, APPS).await;
    let (_, client_id, secret) = create_app(&mut alice, ACME, "Zapier Automation").await;
    let bob = ("bob@example.com", "bob's long password");
    app.add_member_to(bob.0, bob.1, ACME, "ATTORNEY").await;

    let (mut agent, list) = signed_in(&app, bob, APPS).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("Zapier Automation") && list.body.contains(&client_id));
    assert!(!list.body.contains("Create app"), "no Create app for a member");
    assert!(!list.body.contains("/new"));
    assert!(list.body.contains("Only an admin of Acme Legal"));
    assert!(
        !list.body.contains("name=\"organization\""),
        "one organization: no picker"
    );

    let page = agent.get(&app_page(&client_id)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&client_id) && !page.body.contains(&secret));
    for action in ["edit", "rotate-secret", "disable", "enable", "delete"] {
        assert!(
            !page.body.contains(&format!("{}/{action}", app_page(&client_id))),
            "{action}"
        );
    }
    assert_eq!(
        agent.get(&format!("{APPS}/new?organization={ACME}")).await.status,
        404
    );
    assert_eq!(
        agent.get(&format!("{}/edit", app_page(&client_id))).await.status,
        404
    );
    every_change_is_not_found(&mut agent, &page, &client_id, ACME).await;
    unchanged(&app, &client_id, &secret).await;
}

async fn an_admin_of_another_organization_gets_404_for_every_view_and_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let demo = app.seed_demo().await;
    let (mut alice, _) = signed_in(&app, ALICE, APPS).await;
    let (_, client_id, secret) = create_app(&mut alice, ACME, "Zapier Automation").await;
    let carol = ("carol@example.com", "carol's long password");
    let (_, smith) = app
        .add_member(carol.0, carol.1, "Smith & Associates", "FIRM_ADMIN")
        .await;

    let (mut agent, list) = signed_in(&app, carol, APPS).await;
    assert_eq!(list.status, 200);
    assert!(
        unescape(&list.body).contains("Smith & Associates has no apps yet."),
        "{}",
        list.body
    );
    assert!(!list.body.contains(&client_id) && !list.body.contains("Acme Legal"));
    for path in [
        app_page(&client_id),
        format!("{}/edit", app_page(&client_id)),
        format!("{APPS}?organization={ACME}"),
        format!("{APPS}/new?organization={ACME}"),
        app_page("client_no_such_app"),
        // An app no organization owns (registered by an operator).
        app_page(&demo.client.client_id),
    ] {
        let page = agent.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(page.body.contains("Page not found"));
    }
    every_change_is_not_found(&mut agent, &list, &client_id, ACME).await;
    unchanged(&app, &client_id, &secret).await;
    // Carol's own organization works.
    let (_, own, _) = create_app(&mut agent, &smith, "Smith Sync").await;
    assert!(agent.get(APPS).await.body.contains("Smith Sync"));
    assert_eq!(
        alice.get(&app_page(&own)).await.status,
        404,
        "and alice cannot see it"
    );
}

async fn every_dashboard_form_refuses_a_missing_or_foreign_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, _) = signed_in(&app, ALICE, APPS).await;
    let (_, client_id, secret) = create_app(&mut agent, ACME, "Zapier Automation").await;
    // Another browser's valid token.
    let (_, elsewhere) = signed_in(&app, ALICE, APPS).await;
    let foreign = form_inputs(&elsewhere.body, "/logout");
    let mut posts = mutations(&client_id, ACME);
    let create_key = vec![
        ("organization".to_owned(), ACME.to_owned()),
        ("name".to_owned(), "Sneaky key".to_owned()),
        ("scopes".to_owned(), "cases:read".to_owned()),
    ];
    posts.push(("/settings/api-keys".into(), create_key));
    posts.push((
        "/settings/api-keys/revoke".into(),
        vec![
            ("organization".into(), ACME.into()),
            ("key_id".into(), "k".into()),
        ],
    ));
    for (path, fields) in posts {
        for token in [Vec::new(), foreign.clone()] {
            let mut fields = fields.clone();
            fields.extend(token);
            let answer = agent.post_form(&path, &fields).await;
            assert_eq!(answer.status, 400, "{path}");
            assert!(answer.body.contains("This form has expired"), "{path}");
        }
    }
    unchanged(&app, &client_id, &secret).await;
    assert!(app.state.store.list_api_keys(ACME).await.unwrap().is_empty());
    // The redirect after sign-in leads back: signed out, an action's
    // address goes to sign-in and then to the app's page.
    let mut signed_out = UserAgent::new(&app.base_url);
    let answer = signed_out.get(&format!("{}/disable", app_page(&client_id))).await;
    assert_eq!(answer.status, 303);
    let back = query_of(&app.url(answer.location.as_deref().unwrap()));
    assert_eq!(back["return_to"], format!("{}/disable", app_page(&client_id)));
    let (_, page) = signed_in(&app, ALICE, &format!("{}/disable", app_page(&client_id))).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&client_id) && page.body.contains("class=\"status enabled\""));
}
