//! Health endpoints, unknown routes, and graceful shutdown.

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    health_and_readiness_answer,
    unknown_paths_get_json_404,
    shutdown_finishes_cleanly
);

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        app.get_json("/healthz").await,
        (200, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        app.get_json("/readyz").await,
        (200, serde_json::json!({"status": "ok"}))
    );
}

async fn unknown_paths_get_json_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get_json("/nope").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, body) = app.get_json("/api/v1/admin/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["success"], false);
    let response = app.http.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}

async fn shutdown_finishes_cleanly(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    assert_eq!(app.get_json("/healthz").await.0, 200);
    app.stop().await.unwrap();
    assert!(
        app.http.get(app.url("/healthz")).send().await.is_err(),
        "server still answers"
    );
}

backend_tests!(openapi_document_describes_the_admin_api);

async fn openapi_document_describes_the_admin_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, document) = app.get_json("/api/v1/admin/openapi.json").await;
    assert_eq!(status, 200, "served without an admin key");
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/oauth-clients", "post"),
        ("/oauth-clients", "get"),
        ("/oauth-clients/{client_id}", "patch"),
        ("/oauth-clients/{client_id}", "delete"),
        ("/oauth-clients/{client_id}/rotate-secret", "post"),
        ("/oauth-clients/{client_id}/disable", "post"),
        ("/oauth-clients/{client_id}/enable", "post"),
        ("/users", "post"),
        ("/users/{user_id}", "delete"),
        ("/organizations", "post"),
        ("/organizations/{organization_id}/members", "post"),
        ("/organizations/{organization_id}/members/{user_id}", "put"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert_eq!(
        document["components"]["securitySchemes"]["adminApiKey"]["name"],
        "x-admin-api-key"
    );
}
