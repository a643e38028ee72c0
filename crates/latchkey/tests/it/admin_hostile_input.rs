//! The admin API against careless and hostile input: answers that carry a
//! secret are never cached, bodies must be JSON objects, listing limits
//! are refused rather than clamped, and over-long names are refused
//! rather than trimmed into shape.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{ADMIN_KEY, Backend, TestApp, client_body, read_json};

backend_tests!(
    answers_carrying_a_secret_are_not_stored,
    bodies_that_are_not_json_objects_are_refused,
    audit_event_limits_out_of_range_are_refused,
    over_long_names_are_refused_not_trimmed,
);

/// An admin API call with a raw JSON body; returns status, headers, JSON.
async fn admin_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = app
        .http
        .request(method, app.url(&format!("/api/v1/admin{path}")))
        .header("x-admin-api-key", ADMIN_KEY);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let headers = response.headers().clone();
    let (status, json) = read_json(response).await;
    (status, headers, json)
}

fn assert_not_stored(what: &str, headers: &reqwest::header::HeaderMap) {
    assert_eq!(
        headers.get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}"
    );
    assert_eq!(
        headers.get("pragma").map(|v| v.to_str().unwrap()),
        Some("no-cache"),
        "{what}"
    );
}

async fn answers_carrying_a_secret_are_not_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = client_body().to_string();
    let (status, headers, created) = admin_raw(&app, Method::POST, "/oauth-clients", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["data"]["clientSecret"].is_string());
    assert_not_stored("client creation", &headers);

    let id = created["data"]["clientId"].as_str().unwrap();
    let path = format!("/oauth-clients/{id}/rotate-secret");
    let (status, headers, rotated) = admin_raw(&app, Method::POST, &path, None).await;
    assert_eq!(status, 200, "{rotated}");
    assert!(rotated["data"]["clientSecret"].is_string());
    assert_not_stored("secret rotation", &headers);

    let organization = r#"{"name": "Acme Legal"}"#;
    let (_, _, org) = admin_raw(&app, Method::POST, "/organizations", Some(organization)).await;
    let path = format!("/organizations/{}/api-keys", org["data"]["id"].as_str().unwrap());
    let key = r#"{"name": "CRM sync", "scopes": ["cases:read"]}"#;
    let (status, headers, created) = admin_raw(&app, Method::POST, &path, Some(key)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["data"]["apiKey"].is_string());
    assert_not_stored("API key creation", &headers);

    // Every other answer holds account data too.
    for path in ["/users", "/organizations", "/oauth-clients", "/audit-events"] {
        let (status, headers, _) = admin_raw(&app, Method::GET, path, None).await;
        assert_eq!(status, 200);
        assert_not_stored(path, &headers);
    }
}

async fn bodies_that_are_not_json_objects_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_client(client_body()).await;
    let id = client["clientId"].as_str().unwrap();
    let path = format!("/oauth-clients/{id}");
    for (body, found) in [
        ("[]", "an array"),
        (r#"["Renamed"]"#, "an array"),
        (r#""Renamed""#, "a string"),
        ("5", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
    ] {
        let (status, _, answer) = admin_raw(&app, Method::PATCH, &path, Some(body)).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["success"], false);
        assert_eq!(answer["error"]["code"], "invalid_request");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("expected a JSON object") && message.contains(found),
            "{body}: {message}"
        );
    }
    let (_, shown) = app.admin(Method::GET, &path, None).await;
    assert_eq!(shown["data"]["name"], client["name"], "the client is unchanged");

    // An array would otherwise fill a struct's fields in order.
    let (status, _, answer) = admin_raw(&app, Method::POST, "/organizations", Some(r#"["Acme"]"#)).await;
    assert_eq!(status, 400, "{answer}");
    let (_, listed) = app.admin(Method::GET, "/organizations", None).await;
    assert_eq!(listed["data"], json!([]), "nothing was created");
    let (status, _, answer) =
        admin_raw(&app, Method::POST, "/organizations", Some(r#"{"name": "Acme"}"#)).await;
    assert_eq!(status, 201, "objects still work: {answer}");
}

async fn audit_event_limits_out_of_range_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for limit in ["0", "-1", "1001", "99999999999999999999", "abc", "1.5", ""] {
        let (status, body) = app
            .admin(Method::GET, &format!("/audit-events?limit={limit}"), None)
            .await;
        assert_eq!(status, 400, "limit={limit}: {body}");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "invalid_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("1 to 1000"), "limit={limit}: {message}");
    }
    for path in [
        "/audit-events?limit=1",
        "/audit-events?limit=1000",
        "/audit-events",
    ] {
        let (status, body) = app.admin(Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body["data"].is_array());
    }
}

/// Expects a 400 naming `field` and the maximum.
fn assert_too_long(what: &str, (status, body): (u16, Value), field: &str, max: usize) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["error"]["code"], "validation_failed", "{what}");
    assert_eq!(body["error"]["field"], field, "{what}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&max.to_string()), "{what}: {message}");
}

async fn over_long_names_are_refused_not_trimmed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let padded = |length: usize| format!("{} ", "a".repeat(length));

    // Organizations: 200 characters.
    let answer = app
        .admin(Method::POST, "/organizations", Some(json!({"name": padded(200)})))
        .await;
    assert_too_long("organization name", answer, "name", 200);
    let answer = app
        .admin(
            Method::POST,
            "/organizations",
            Some(json!({"name": format!("{}A", " ".repeat(300))})),
        )
        .await;
    assert_too_long("organization name of spaces", answer, "name", 200);
    let (status, org) = app
        .admin(
            Method::POST,
            "/organizations",
            Some(json!({"name": "a".repeat(200)})),
        )
        .await;
    assert_eq!(status, 201, "exactly the maximum is fine: {org}");
    let org_id = org["data"]["id"].as_str().unwrap().to_owned();

    // Users: a 200-character name, a 254-character email.
    let user =
        |name: String, email: String| json!({"email": email, "name": name, "password": "a long password"});
    let answer = app
        .admin(
            Method::POST,
            "/users",
            Some(user(padded(200), "bob@example.com".into())),
        )
        .await;
    assert_too_long("user name", answer, "name", 200);
    let long_email = format!("{}@example.com", "b".repeat(254 - "@example.com".len()));
    assert_eq!(long_email.len(), 254);
    let answer = app
        .admin(
            Method::POST,
            "/users",
            Some(user("Bob".into(), format!("{long_email} "))),
        )
        .await;
    assert_too_long("email", answer, "email", 254);
    let (status, created) = app
        .admin(Method::POST, "/users", Some(user("Bob".into(), long_email)))
        .await;
    assert_eq!(status, 201, "{created}");
    let user_id = created["data"]["id"].as_str().unwrap().to_owned();

    // Membership roles and API key names: 100 characters.
    let answer = app
        .admin(
            Method::POST,
            &format!("/organizations/{org_id}/members"),
            Some(json!({"userId": user_id, "role": padded(100)})),
        )
        .await;
    assert_too_long("role", answer, "role", 100);
    let answer = app
        .admin(
            Method::POST,
            &format!("/organizations/{org_id}/api-keys"),
            Some(json!({"name": padded(100), "scopes": ["cases:write"]})),
        )
        .await;
    assert_too_long("API key name", answer, "name", 100);

    // Client names: 100 characters, at registration and in a change.
    let mut body = client_body();
    body["name"] = padded(100).into();
    let answer = app.admin(Method::POST, "/oauth-clients", Some(body)).await;
    assert_too_long("client name", answer, "name", 100);
    let client = app.create_client(client_body()).await;
    let path = format!("/oauth-clients/{}", client["clientId"].as_str().unwrap());
    let answer = app
        .admin(Method::PATCH, &path, Some(json!({"name": padded(100)})))
        .await;
    assert_too_long("client name change", answer, "name", 100);

    // The example API's case titles: 200 characters.
    let (status, key) = app
        .admin(
            Method::POST,
            &format!("/organizations/{org_id}/api-keys"),
            Some(json!({"name": "CRM sync", "scopes": ["cases:write"]})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let response = app
        .http
        .post(app.url("/api/v1/cases"))
        .bearer_auth(key["data"]["apiKey"].as_str().unwrap())
        .json(&json!({"title": padded(200)}))
        .send()
        .await
        .unwrap();
    assert_too_long("case title", read_json(response).await, "title", 200);
}
