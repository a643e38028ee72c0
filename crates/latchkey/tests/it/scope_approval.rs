//! Sensitive scopes wait for the platform's approval: an app made in the
//! dashboard that asks for one cannot use it (`invalid_scope`, "awaiting
//! the platform's approval") until the operator approves it through the
//! admin API or the CLI; a denial is refused as "denied" and its reason
//! shown on the app's page; apps the operator registers have their
//! scopes at once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::oauth_apps_pages::{ACME, signed_in};
use crate::seed_integrations::{authorize_url, obtain_code, register};
use crate::user_agent::{ALICE, UserAgent, element_text, form_inputs, query_of};

backend_tests!(
    a_dashboard_app_waits_for_approval_of_a_sensitive_scope_then_uses_it,
    a_denied_scope_is_refused_and_its_reason_shown_to_the_apps_admins,
    an_operator_registered_app_has_its_sensitive_scopes_at_once,
    editing_an_app_adds_pending_scopes_and_removing_one_drops_it,
    the_cli_lists_approves_and_denies_scope_requests,
);

const APPS: &str = "/settings/oauth-apps";
const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// The default vocabulary with `cases:write` and `user:read` sensitive.
async fn spawn(backend: Backend) -> TestApp {
    let options = Options {
        tweak: Some(Box::new(|raw| {
            let scopes = latchkey::config::Config::default_config()
                .unwrap()
                .scopes
                .into_iter()
                .map(|s| latchkey::config::RawScope {
                    sensitive: s.name == "cases:write" || s.name == "user:read",
                    name: s.name,
                    description: s.description,
                })
                .collect();
            raw.scopes = Some(scopes);
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    app
}

fn form_fields(name: &str, scopes: &[&str]) -> Vec<(String, String)> {
    let mut fields = vec![
        ("name".to_owned(), name.to_owned()),
        ("description".to_owned(), "Files cases.".to_owned()),
        ("homepage_url".to_owned(), String::new()),
        ("logo_url".to_owned(), String::new()),
        ("redirect_uris".to_owned(), REDIRECT.to_owned()),
    ];
    fields.extend(scopes.iter().map(|s| ("scopes".to_owned(), (*s).to_owned())));
    fields
}

/// Alice creates an app for Acme Legal in the dashboard asking for
/// `scopes`; returns her browser, the created page's body and client_id.
async fn dashboard_app(app: &TestApp, scopes: &[&str]) -> (UserAgent, String, String) {
    let (mut agent, _) = signed_in(app, ALICE, APPS).await;
    let form = agent.get(&format!("{APPS}/new?organization={ACME}")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("needs the platform&#39;s approval")
            || form.body.contains("needs the platform's approval"),
        "the form marks sensitive scopes: {}",
        form.body
    );
    let mut fields = form_inputs(&form.body, &format!("{APPS}/new"));
    fields.extend(form_fields("Case Filer", scopes));
    let created = agent.post_form(&format!("{APPS}/new"), &fields).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let client_id = element_text(&created.body, "client-id").unwrap();
    (agent, created.body, client_id)
}

/// The query of the redirect an authorization request with `scope` is
/// answered with before anyone signs in (scope errors come first).
async fn refused(app: &TestApp, client_id: &str, scope: &str) -> std::collections::HashMap<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = authorize_url(
        app,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "approval-state"),
        ],
    );
    let response = http.get(url).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    query_of(&location)
}

async fn code_for(app: &TestApp, client_id: &str, scope: &str) -> String {
    obtain_code(
        app,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "approval-state"),
        ],
    )
    .await
}

async fn pending(app: &TestApp) -> Vec<Value> {
    let (status, body) = app
        .admin(Method::GET, "/scope-approvals?status=pending", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

async fn a_dashboard_app_waits_for_approval_of_a_sensitive_scope_then_uses_it(backend: Backend) {
    let app = spawn(backend).await;
    let (_, created, client_id) = dashboard_app(&app, &["openid", "cases:read", "cases:write"]).await;
    assert!(created.contains("Awaiting approval"), "{created}");

    let query = refused(&app, &client_id, "openid cases:write").await;
    assert_eq!(query["error"], "invalid_scope");
    assert!(
        query["error_description"].contains("awaiting the platform's approval"),
        "{query:?}"
    );
    assert_eq!(query["state"], "approval-state");
    assert_eq!(query["iss"], app.state.config.issuer);
    // Without the pending scope, the app works.
    code_for(&app, &client_id, "openid cases:read").await;

    let listed = pending(&app).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["clientId"], client_id.as_str());
    assert_eq!(listed[0]["clientName"], "Case Filer");
    assert_eq!(listed[0]["organizationId"], ACME);
    assert_eq!(listed[0]["scope"], "cases:write");
    assert_eq!(listed[0]["status"], "pending");
    assert!(listed[0]["requestedAt"].is_string());

    let path = format!("/oauth-clients/{client_id}/scopes/cases:write/approve");
    let (status, body) = app.admin(Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["allowed_scopes"],
        json!(["openid", "cases:read", "cases:write"])
    );
    code_for(&app, &client_id, "openid cases:write").await;
    assert!(pending(&app).await.is_empty());
    let (status, body) = app.admin(Method::POST, &path, None).await;
    assert_eq!(status, 404, "approved once: {body}");

    let (_, events) = app.admin(Method::GET, "/audit-events", None).await;
    let approved = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "client.scope_approved")
        .unwrap_or_else(|| panic!("no approval audited: {events}"));
    assert_eq!(approved["clientId"], client_id.as_str());
    assert_eq!(approved["actor"], "admin-api");
    assert_eq!(approved["details"]["scope"], "cases:write");
}

async fn a_denied_scope_is_refused_and_its_reason_shown_to_the_apps_admins(backend: Backend) {
    let app = spawn(backend).await;
    let (mut agent, _, client_id) = dashboard_app(&app, &["openid", "cases:write"]).await;
    let path = format!("/oauth-clients/{client_id}/scopes/cases:write/deny");
    for body in [
        json!({}),
        json!({"reason": "   "}),
        json!({"reason": "x".repeat(501)}),
    ] {
        let (status, answer) = app.admin(Method::POST, &path, Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["success"], false);
    }
    let unknown = format!("/oauth-clients/{client_id}/scopes/firm:read/deny");
    let (status, _) = app
        .admin(Method::POST, &unknown, Some(json!({"reason": "no"})))
        .await;
    assert_eq!(status, 404, "no request for that scope");

    let reason = "Write access needs a signed data agreement";
    let (status, body) = app
        .admin(Method::POST, &path, Some(json!({ "reason": reason })))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "denied");

    let query = refused(&app, &client_id, "openid cases:write").await;
    assert_eq!(query["error"], "invalid_scope");
    assert!(query["error_description"].contains("was denied"), "{query:?}");
    assert!(
        !query["error_description"].contains(reason),
        "the reason is for the admins"
    );
    code_for(&app, &client_id, "openid").await;

    let page = agent.get(&format!("{APPS}/{client_id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("Denied: {reason}")), "{}", page.body);
    assert!(pending(&app).await.is_empty());
    let (_, denied) = app
        .admin(Method::GET, "/scope-approvals?status=denied", None)
        .await;
    assert_eq!(denied["data"][0]["reason"], reason);
    let (status, _) = app
        .admin(Method::GET, "/scope-approvals?status=maybe", None)
        .await;
    assert_eq!(status, 400);
}

async fn an_operator_registered_app_has_its_sensitive_scopes_at_once(backend: Backend) {
    let app = spawn(backend).await;
    let (client_id, _) = register(&app, &[REDIRECT], &["openid", "cases:write"]).await;
    code_for(&app, &client_id, "openid cases:write").await;
    assert!(pending(&app).await.is_empty());
}

/// Saves the Edit form with `scopes` ticked; returns the form as it was
/// shown before.
async fn save(agent: &mut UserAgent, edit: &str, scopes: &[&str]) -> String {
    let form = agent.get(edit).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let mut fields: Vec<(String, String)> = form_inputs(&form.body, edit)
        .into_iter()
        .filter(|(name, _)| name == "csrf_token" || name == "organization")
        .collect();
    fields.extend(form_fields("Case Filer", scopes));
    let saved = agent.post_form(edit, &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    form.body
}

async fn editing_an_app_adds_pending_scopes_and_removing_one_drops_it(backend: Backend) {
    let app = spawn(backend).await;
    let (mut agent, _, client_id) = dashboard_app(&app, &["openid"]).await;
    let edit = format!("{APPS}/{client_id}/edit");
    save(&mut agent, &edit, &["openid", "cases:write"]).await;
    assert_eq!(pending(&app).await.len(), 1);
    let form = save(&mut agent, &edit, &["openid"]).await;
    assert!(
        form.contains("value=\"cases:write\" checked"),
        "a pending scope is shown as asked for: {form}"
    );
    assert!(
        pending(&app).await.is_empty(),
        "removing the scope drops its request"
    );
    let query = refused(&app, &client_id, "openid cases:write").await;
    assert!(query["error_description"].contains("is not allowed"), "{query:?}");
}

async fn the_cli_lists_approves_and_denies_scope_requests(backend: Backend) {
    let app = spawn(backend).await;
    let (_, _, client_id) = dashboard_app(&app, &["openid", "cases:write", "user:read"]).await;
    let output = app.cli(&["clients", "approvals"], None);
    assert!(output.status.success(), "{output:?}");
    let listed = String::from_utf8(output.stdout).unwrap();
    assert!(listed.contains(&client_id), "{listed}");
    assert!(
        listed.contains("cases:write") && listed.contains("user:read"),
        "{listed}"
    );

    let output = app.cli(&["clients", "approve", &client_id, "cases:write"], None);
    assert!(output.status.success(), "{output:?}");
    let output = app.cli(
        &[
            "clients",
            "deny",
            &client_id,
            "user:read",
            "--reason",
            "Not needed to file cases",
        ],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    let output = app.cli(&["clients", "approve", &client_id, "firm:read"], None);
    assert!(!output.status.success(), "nothing to approve");

    let output = app.cli(&["clients", "approvals"], None);
    let listed = String::from_utf8(output.stdout).unwrap();
    assert!(!listed.contains(&client_id), "{listed}");
    let output = app.cli(&["clients", "approvals", "--status", "denied"], None);
    let listed = String::from_utf8(output.stdout).unwrap();
    assert!(listed.contains("user:read"), "{listed}");

    code_for(&app, &client_id, "openid cases:write").await;
    let query = refused(&app, &client_id, "openid user:read").await;
    assert!(query["error_description"].contains("was denied"), "{query:?}");
}
