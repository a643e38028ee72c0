//! Admin API for OAuth clients (SPEC 5, 10): the registration response of
//! the integration guide, secrets returned once and stored as digests,
//! edits, rotation, disable/enable, delete, and every refusal.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, client_body};
use latchkey::secret::Secret;

backend_tests!(
    create_returns_the_guide_shape_with_the_secret_once,
    secret_is_stored_only_as_its_digest,
    list_get_patch_and_delete,
    rotate_secret_replaces_the_old_secret,
    disable_and_enable_flip_the_flag,
    public_client_has_no_secret_to_rotate,
    invalid_redirect_uris_are_refused_naming_the_uri,
    unknown_scopes_are_refused_naming_the_scope,
    missing_or_wrong_admin_key_gets_401_everywhere,
    malformed_bodies_get_4xx_with_the_error_shape,
);

async fn create_returns_the_guide_shape_with_the_secret_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app
        .admin(Method::POST, "/oauth-clients", Some(client_body()))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(
        body["message"],
        "Client created successfully. Save the client secret - it will not be shown again."
    );
    let data = &body["data"];
    let client_id = data["clientId"].as_str().unwrap();
    let secret = data["clientSecret"].as_str().unwrap();
    assert!(client_id.starts_with("client_"), "{client_id}");
    assert!(
        secret.starts_with("secret_") && secret.len() >= 7 + 43,
        "{secret}"
    );
    assert_eq!(data["name"], "Your Application Name");
    assert_eq!(
        data["redirectUris"][1],
        "https://yourapp.com/api/auth/callback/casexchange"
    );
    assert_eq!(
        data["allowed_scopes"],
        json!(["openid", "email", "profile", "cases:read", "cases:write"])
    );
    assert_eq!(data["tokenEndpointAuthMethod"], "client_secret_basic");
    assert_eq!(data["enabled"], true);

    let (status, shown) = app
        .admin(Method::GET, &format!("/oauth-clients/{client_id}"), None)
        .await;
    assert_eq!(status, 200);
    assert!(
        shown["data"].get("clientSecret").is_none(),
        "secret shown again: {shown}"
    );
    let (_, listed) = app.admin(Method::GET, "/oauth-clients", None).await;
    assert!(listed["data"][0].get("clientSecret").is_none());
    assert!(!listed.to_string().contains(secret));
}

async fn secret_is_stored_only_as_its_digest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let data = app.create_client(client_body()).await;
    let secret = data["clientSecret"].as_str().unwrap().to_owned();
    let stored = app
        .state
        .store
        .find_client(data["clientId"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .secret_digest
            .unwrap()
            .matches(&Secret::new(secret.clone()).digest())
    );
    if backend == Backend::Sqlite {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(app.database.dir.path()).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        let needle = secret.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "secret found in the database files"
        );
    }
}

async fn list_get_patch_and_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.create_client(client_body()).await;
    let second = app
        .create_client(json!({
            "name": "Local Development",
            "redirectUris": ["http://localhost:3000/oauth/callback"],
            "allowed_scopes": ["openid", "email", "profile", "cases:read"]
        }))
        .await;
    assert_eq!(second["description"], "");
    let (status, listed) = app.admin(Method::GET, "/oauth-clients", None).await;
    assert_eq!(status, 200);
    let mut ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clientId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = [
        first["clientId"].as_str().unwrap(),
        second["clientId"].as_str().unwrap(),
    ];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let id = first["clientId"].as_str().unwrap();
    let patch = json!({
        "name": "Renamed",
        "homepageUrl": "https://yourapp.com",
        "logoUrl": "https://yourapp.com/logo.png",
        "redirectUris": ["https://yourapp.com/new-callback"],
        "allowed_scopes": ["openid", "cases:read"]
    });
    let (status, patched) = app
        .admin(Method::PATCH, &format!("/oauth-clients/{id}"), Some(patch))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["name"], "Renamed");
    assert_eq!(patched["data"]["description"], "Description of your integration");
    assert_eq!(
        patched["data"]["redirectUris"],
        json!(["https://yourapp.com/new-callback"])
    );
    assert_eq!(patched["data"]["allowed_scopes"], json!(["openid", "cases:read"]));
    let (_, cleared) = app
        .admin(
            Method::PATCH,
            &format!("/oauth-clients/{id}"),
            Some(json!({"logoUrl": null})),
        )
        .await;
    assert_eq!(cleared["data"]["logoUrl"], Value::Null);
    assert_eq!(cleared["data"]["homepageUrl"], "https://yourapp.com");
    let (status, refused) = app
        .admin(
            Method::PATCH,
            &format!("/oauth-clients/{id}"),
            Some(json!({"redirectUris": ["http://evil.example/cb"]})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");

    let (status, deleted) = app
        .admin(Method::DELETE, &format!("/oauth-clients/{id}"), None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    let (status, missing) = app
        .admin(Method::GET, &format!("/oauth-clients/{id}"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(missing["success"], false);
    assert_eq!(missing["error"]["code"], "not_found");
    let (status, _) = app
        .admin(Method::DELETE, &format!("/oauth-clients/{id}"), None)
        .await;
    assert_eq!(status, 404);
}

async fn rotate_secret_replaces_the_old_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let data = app.create_client(client_body()).await;
    let id = data["clientId"].as_str().unwrap();
    let old = Secret::new(data["clientSecret"].as_str().unwrap());
    let (status, rotated) = app
        .admin(Method::POST, &format!("/oauth-clients/{id}/rotate-secret"), None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new = Secret::new(rotated["data"]["clientSecret"].as_str().unwrap());
    assert_ne!(old, new);
    assert!(new.expose().starts_with("secret_"));
    let stored = app
        .state
        .store
        .find_client(id)
        .await
        .unwrap()
        .unwrap()
        .secret_digest
        .unwrap();
    assert!(stored.matches(&new.digest()));
    assert!(!stored.matches(&old.digest()));
    let (status, _) = app
        .admin(Method::POST, "/oauth-clients/client_nope/rotate-secret", None)
        .await;
    assert_eq!(status, 404);
}

async fn disable_and_enable_flip_the_flag(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let data = app.create_client(client_body()).await;
    let id = data["clientId"].as_str().unwrap();
    let (status, disabled) = app
        .admin(Method::POST, &format!("/oauth-clients/{id}/disable"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(disabled["data"]["enabled"], false);
    assert!(!app.state.store.find_client(id).await.unwrap().unwrap().enabled);
    let (_, enabled) = app
        .admin(Method::POST, &format!("/oauth-clients/{id}/enable"), None)
        .await;
    assert_eq!(enabled["data"]["enabled"], true);
    let (status, _) = app
        .admin(Method::POST, "/oauth-clients/client_nope/disable", None)
        .await;
    assert_eq!(status, 404);
}

async fn public_client_has_no_secret_to_rotate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = client_body();
    body["tokenEndpointAuthMethod"] = json!("none");
    let data = app.create_client(body).await;
    assert!(data.get("clientSecret").is_none(), "{data}");
    assert_eq!(data["tokenEndpointAuthMethod"], "none");
    let id = data["clientId"].as_str().unwrap();
    let (status, refused) = app
        .admin(Method::POST, &format!("/oauth-clients/{id}/rotate-secret"), None)
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("public"));

    let mut body = client_body();
    body["tokenEndpointAuthMethod"] = json!("private_key_jwt");
    let (status, refused) = app.admin(Method::POST, "/oauth-clients", Some(body)).await;
    assert_eq!(status, 400);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("private_key_jwt")
    );
}

async fn invalid_redirect_uris_are_refused_naming_the_uri(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        ("http://yourapp.com/callback", "https"),
        ("https://yourapp.com/callback#section", "fragment"),
        ("https://*.yourapp.com/callback", "wildcard"),
        ("/oauth/callback", "absolute"),
        ("javascript:alert(1)", "https"),
    ];
    for (uri, problem) in cases {
        let mut body = client_body();
        body["redirectUris"] = json!(["https://yourapp.com/ok", uri]);
        let (status, refused) = app.admin(Method::POST, "/oauth-clients", Some(body)).await;
        assert_eq!(status, 400, "{uri}: {refused}");
        assert_eq!(refused["success"], false);
        assert_eq!(refused["error"]["code"], "validation_failed");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(uri) && message.contains(problem),
            "{uri}: {message}"
        );
    }
    let mut body = client_body();
    body["redirectUris"] = json!([]);
    let (status, _) = app.admin(Method::POST, "/oauth-clients", Some(body)).await;
    assert_eq!(status, 400);
    let (_, listed) = app.admin(Method::GET, "/oauth-clients", None).await;
    assert_eq!(listed["data"], json!([]), "nothing was registered");
}

async fn unknown_scopes_are_refused_naming_the_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = client_body();
    body["allowed_scopes"] = json!(["openid", "cases:delete", "admin"]);
    let (status, refused) = app.admin(Method::POST, "/oauth-clients", Some(body)).await;
    assert_eq!(status, 400, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`cases:delete`") && message.contains("`admin`"),
        "{message}"
    );
    assert_eq!(refused["error"]["field"], "allowed_scopes");
}

async fn missing_or_wrong_admin_key_gets_401_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let routes = [
        (Method::POST, "/oauth-clients"),
        (Method::GET, "/oauth-clients"),
        (Method::GET, "/oauth-clients/x"),
        (Method::PATCH, "/oauth-clients/x"),
        (Method::DELETE, "/oauth-clients/x"),
        (Method::POST, "/oauth-clients/x/rotate-secret"),
        (Method::POST, "/oauth-clients/x/disable"),
        (Method::POST, "/oauth-clients/x/enable"),
        (Method::GET, "/users"),
        (Method::POST, "/organizations"),
    ];
    for (method, path) in routes {
        for key in [None, Some("wrong-key-0123456789abcdef"), Some("")] {
            let mut request = app
                .http
                .request(method.clone(), app.url(&format!("/api/v1/admin{path}")));
            if let Some(key) = key {
                request = request.header("x-admin-api-key", key);
            }
            let response = request.json(&client_body()).send().await.unwrap();
            let (status, body) = crate::helpers::read_json(response).await;
            assert_eq!(status, 401, "{method} {path} with {key:?}: {body}");
            assert_eq!(body["success"], false);
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
    let (_, listed) = app.admin(Method::GET, "/oauth-clients", None).await;
    assert_eq!(listed["data"], json!([]));
}

async fn malformed_bodies_get_4xx_with_the_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(70 * 1024));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("application/json", "{not json".into(), 400, "invalid JSON"),
        ("application/json", r#"{"name": 5, "redirectUris": [], "allowed_scopes": []}"#.into(), 400, "name"),
        ("application/json", r#"{"name": "a", "redirectUris": "https://x.example/cb", "allowed_scopes": ["openid"]}"#.into(), 400, "redirectUris"),
        ("application/json", r#"{"name": "a", "redirectUris": ["https://x.example/cb"], "allowed_scopes": ["openid"], "isAdmin": true}"#.into(), 400, "isAdmin"),
        ("application/json", r#"{"name": "a", "allowed_scopes": ["openid"]}"#.into(), 400, "redirectUris"),
        ("application/json", "[]".into(), 400, "invalid JSON"),
        ("application/json", String::new(), 400, "invalid JSON"),
        ("text/plain", r#"{"name": "a"}"#.into(), 415, "Content-Type"),
        ("application/json", huge, 413, "larger"),
    ];
    for (content_type, body, expected, fragment) in cases {
        let response = app
            .http
            .post(app.url("/api/v1/admin/oauth-clients"))
            .header("x-admin-api-key", crate::helpers::ADMIN_KEY)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let (status, json) = crate::helpers::read_json(response).await;
        let shown = &body[..body.len().min(80)];
        assert_eq!(status, expected, "{shown}: {json}");
        assert_eq!(json["success"], false);
        assert!(json["error"]["code"].is_string());
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains(fragment), "{shown}: {message}");
    }
}
