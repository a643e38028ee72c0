//! Settings → API Keys, driven over HTTP: a key is created through the
//! form, shown exactly once, accepted by the API as a bearer credential,
//! and refused at once after Revoke; refused fields are shown beside the
//! field; the page is for organization admins only, and only for their own
//! organizations.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::oauth_apps_pages::{ACME, BIRCH, signed_in};
use crate::user_agent::{ALICE, Page, UserAgent, element_text, form_inputs, options, unescape};

backend_tests!(
    api_key_is_shown_once_works_on_the_api_and_revoke_ends_it_at_once,
    refused_key_fields_are_shown_beside_them_with_everything_kept,
    api_keys_are_for_admins_of_the_organization_only,
    an_admin_of_several_organizations_picks_one,
);

const KEYS: &str = "/settings/api-keys";

/// The create form's fields for `name` and `scopes` (the organization and
/// token come from the page).
fn key_fields(page: &Page, name: &str, scopes: &[&str]) -> Vec<(String, String)> {
    let mut fields = form_inputs(&page.body, KEYS);
    fields.push(("name".into(), name.into()));
    fields.extend(scopes.iter().map(|s| ("scopes".to_owned(), (*s).to_owned())));
    fields
}

/// A call to the example API with `key`; returns (status, JSON or null).
async fn api(app: &TestApp, path: &str, key: &str) -> (u16, Value) {
    let response = app.http.get(app.url(path)).bearer_auth(key).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn api_key_is_shown_once_works_on_the_api_and_revoke_ends_it_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, page) = signed_in(&app, ALICE, KEYS).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>API Keys</h1>"));
    assert!(page.body.contains(">Name</label>") && page.body.contains("<legend>Scopes</legend>"));
    assert!(page.body.contains(">Create key</button>"));
    // The API part of the vocabulary, as descriptions: no OpenID Connect
    // scope.
    let text = unescape(&page.body);
    for scope in &app.state.config.scopes {
        let offered = page.body.contains(&format!("value=\"{}\"", scope.name));
        let oidc = ["openid", "email", "profile", "offline_access"].contains(&scope.name.as_str());
        assert_eq!(offered, !oidc, "{}", scope.name);
        assert_eq!(text.contains(&scope.description), !oidc, "{}", scope.description);
    }
    // Alice administers one organization: nothing to choose.
    assert!(options(&page.body).is_empty());

    let created = agent
        .post_form(KEYS, &key_fields(&page, "CRM sync", &["user:read", "firm:read"]))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.headers["cache-control"], "no-store");
    let key = element_text(&created.body, "api-key").unwrap();
    assert!(key.starts_with("key_"), "{key}");
    assert_eq!(created.body.matches(&key).count(), 1, "shown once on the page");
    assert!(created.body.contains("cannot be shown again") && created.body.contains("data-copy=\"api-key\""));
    let listed = agent.get(KEYS).await;
    assert!(!listed.body.contains(&key), "never again");
    assert!(
        listed.body.contains("CRM sync") && listed.body.contains("Never") && listed.body.contains("Active")
    );
    assert!(unescape(&listed.body).contains("Read your firm's information"));

    // The key works as a bearer credential: /me knows it has no user,
    // /firm answers for Acme Legal.
    let (status, me) = api(&app, "/api/v1/me", &key).await;
    assert_eq!(
        (status, me["error"]["code"].as_str()),
        (403, Some("no_user")),
        "{me}"
    );
    let (status, firm) = api(&app, "/api/v1/firm", &key).await;
    assert_eq!((status, firm["data"]["id"].as_str()), (200, Some(ACME)), "{firm}");
    let listed = agent.get(KEYS).await;
    assert!(!listed.body.contains("Never"), "last use recorded");

    // Revoke, behind a confirmation: refused at once.
    assert!(listed.body.contains("<details class=\"confirm\">") && listed.body.contains("Revoke…"));
    let revoke = format!("{KEYS}/revoke");
    let revoked = agent
        .post_form(&revoke, &form_inputs(&listed.body, &revoke))
        .await;
    assert_eq!(revoked.status, 303);
    let after = agent.follow(revoked).await;
    assert!(after.body.contains("The key was revoked") && after.body.contains("Revoked"));
    assert!(
        !after.body.contains(&format!("action=\"{revoke}\"")),
        "nothing left to revoke"
    );
    for path in ["/api/v1/me", "/api/v1/firm"] {
        let response = app
            .http
            .get(app.url(path))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
}

async fn refused_key_fields_are_shown_beside_them_with_everything_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (mut agent, page) = signed_in(&app, ALICE, KEYS).await;
    let refused = agent
        .post_form(KEYS, &key_fields(&page, "  ", &["cases:write"]))
        .await;
    assert_eq!(refused.status, 400);
    let body = &refused.body;
    assert!(element_text(body, "key-name-error").is_some(), "{body}");
    let (field, error) = (
        body.find("id=\"key-name\"").unwrap(),
        body.find("id=\"key-name-error\"").unwrap(),
    );
    assert!(field < error && error < body.find("<legend>Scopes</legend>").unwrap());
    assert!(body.contains("value=\"cases:write\" checked"));

    let refused = agent.post_form(KEYS, &key_fields(&page, "CRM <sync>", &[])).await;
    assert_eq!(refused.status, 400);
    assert!(element_text(&refused.body, "key-scopes-error").is_some());
    assert!(unescape(&refused.body).contains("value=\"CRM <sync>\""));
    assert!(!refused.body.contains("CRM <sync>"), "escaped");
    // A scope that needs a user is refused even when sent by hand.
    let refused = agent
        .post_form(KEYS, &key_fields(&page, "Sneaky", &["openid"]))
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        element_text(&refused.body, "key-scopes-error")
            .unwrap()
            .contains("openid")
    );
    assert!(app.state.store.list_api_keys(ACME).await.unwrap().is_empty());
}

/// Posts the create and revoke forms with `agent`'s own valid token.
async fn key_changes(agent: &mut UserAgent, page: &Page, organization: &str, key_id: &str) -> [u16; 2] {
    let token = form_inputs(&page.body, "/logout");
    let mut create = token.clone();
    create.extend([
        ("organization".to_owned(), organization.to_owned()),
        ("name".to_owned(), "Sneaky".to_owned()),
        ("scopes".to_owned(), "cases:read".to_owned()),
    ]);
    let mut revoke = token;
    revoke.extend([
        ("organization".to_owned(), organization.to_owned()),
        ("key_id".to_owned(), key_id.to_owned()),
    ]);
    [
        agent.post_form(KEYS, &create).await.status,
        agent.post_form(&format!("{KEYS}/revoke"), &revoke).await.status,
    ]
}

async fn api_keys_are_for_admins_of_the_organization_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (status, created) = app
        .admin(
            Method::POST,
            &format!("/organizations/{ACME}/api-keys"),
            Some(json!({"name": "Acme sync", "scopes": ["cases:read"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key_id = created["data"]["id"].as_str().unwrap().to_owned();

    // A member who is not an admin.
    let bob = ("bob@example.com", "bob's long password");
    app.add_member_to(bob.0, bob.1, ACME, "ATTORNEY").await;
    let (mut agent, page) = signed_in(&app, bob, KEYS).await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(page.body.contains("Page not found"));
    assert_eq!(
        agent.get(&format!("{KEYS}?organization={ACME}")).await.status,
        404
    );
    let home = agent.get("/settings/connected-apps").await;
    assert!(!home.body.contains("href=\"/settings/api-keys\""));
    assert_eq!(key_changes(&mut agent, &home, ACME, &key_id).await, [404, 404]);

    // An admin of another organization.
    let carol = ("carol@example.com", "carol's long password");
    let (_, smith) = app
        .add_member(carol.0, carol.1, "Smith & Associates", "FIRM_ADMIN")
        .await;
    let (mut agent, page) = signed_in(&app, carol, KEYS).await;
    assert_eq!(page.status, 200);
    assert!(unescape(&page.body).contains("Smith & Associates has no API keys yet."));
    assert!(!page.body.contains("Acme sync"));
    assert_eq!(
        agent.get(&format!("{KEYS}?organization={ACME}")).await.status,
        404
    );
    assert_eq!(key_changes(&mut agent, &page, ACME, &key_id).await, [404, 404]);
    // Naming her own organization with Acme's key id changes nothing either.
    let status = key_changes(&mut agent, &page, &smith, &key_id).await[1];
    assert_eq!(status, 404);

    let keys = app.state.store.list_api_keys(ACME).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked_at.is_none(), "Acme's key still works");
}

async fn an_admin_of_several_organizations_picks_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (_, users) = app.admin(Method::GET, "/users", None).await;
    let alice = users["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .admin(
            Method::PUT,
            &format!("/organizations/{BIRCH}/members/{alice}"),
            Some(json!({"role": "FIRM_ADMIN"})),
        )
        .await;
    assert_eq!(status, 200);
    let (mut agent, page) = signed_in(&app, ALICE, KEYS).await;
    // The picker and the create form both offer both organizations, Acme
    // Legal first.
    assert_eq!(options(&page.body), [ACME, BIRCH, ACME, BIRCH]);
    // The organization is a select here, not a hidden field: a form
    // without it changes nothing.
    let mut fields = key_fields(&page, "Birch reporting", &["firm:read"]);
    assert!(fields.iter().all(|(name, _)| name != "organization"));
    assert_eq!(agent.post_form(KEYS, &fields).await.status, 404);
    fields.push(("organization".into(), BIRCH.into()));
    let created = agent.post_form(KEYS, &fields).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(
        unescape(&created.body).contains("for Birch & Partners"),
        "the page moves to Birch"
    );
    let key = element_text(&created.body, "api-key").unwrap();
    let (status, firm) = api(&app, "/api/v1/firm", &key).await;
    assert_eq!((status, firm["data"]["id"].as_str()), (200, Some(BIRCH)));
    let acme = agent.get(KEYS).await;
    assert!(!acme.body.contains("Birch reporting"), "listed under Birch only");
    let birch = agent.get(&format!("{KEYS}?organization={BIRCH}")).await;
    assert!(birch.body.contains("Birch reporting"));
    // The OAuth Apps picker now names both without "view only".
    let apps = agent.get("/settings/oauth-apps").await;
    assert!(!apps.body.contains("view only"));
}
