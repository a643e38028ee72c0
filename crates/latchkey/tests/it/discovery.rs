//! Discovery documents and the JWKS (SPEC 6), under the default and both
//! example configurations.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp, example};

backend_tests!(
    default_metadata_lists_every_required_field,
    casexchange_metadata_matches_the_guide,
    clientcasa_metadata_uses_its_paths,
    jwks_publishes_the_signing_key,
);

async fn default_metadata_lists_every_required_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, oidc) = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(status, 200);
    let (_, oauth) = app.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(oidc, oauth, "both documents carry the same metadata");
    let issuer = app.base_url.as_str();
    assert_eq!(oidc["issuer"], issuer);
    for (field, path) in [
        ("authorization_endpoint", "/api/oauth/authorize"),
        ("token_endpoint", "/api/oauth/token"),
        ("userinfo_endpoint", "/api/oauth/userinfo"),
        ("revocation_endpoint", "/api/oauth/revoke"),
        ("introspection_endpoint", "/api/oauth/introspect"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(oidc[field], format!("{issuer}{path}"), "{field}");
    }
    assert_eq!(oidc["response_types_supported"], json!(["code"]));
    assert_eq!(
        oidc["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(oidc["code_challenge_methods_supported"], json!(["S256", "plain"]));
    assert_eq!(
        oidc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        oidc["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    // A public client cannot authenticate, so it may not introspect.
    assert_eq!(
        oidc["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(oidc["subject_types_supported"], json!(["public"]));
    assert_eq!(oidc["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(oidc["authorization_response_iss_parameter_supported"], true);
    let claims = oidc["claims_supported"].as_array().unwrap();
    for claim in [
        "sub",
        "email",
        "name",
        "firm_id",
        "firm_name",
        "role",
        "amr",
        "acr",
    ] {
        assert!(claims.contains(&json!(claim)), "{claim}");
    }
    assert_eq!(
        oidc["acr_values_supported"],
        json!(["phr", "urn:latchkey:acr:2fa", "urn:latchkey:acr:1fa"])
    );
    assert!(
        oidc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("openid"))
    );
}

/// The seed guide's discovery example, field by field.
async fn casexchange_metadata_matches_the_guide(backend: Backend) {
    let options = Options {
        config_file: Some(example("casexchange.toml")),
        keep_issuer: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (_, oidc) = app.get_json("/.well-known/openid-configuration").await;
    let guide = json!({
        "issuer": "https://api.casexchange.com",
        "authorization_endpoint": "https://api.casexchange.com/api/oauth/authorize",
        "token_endpoint": "https://api.casexchange.com/api/oauth/token",
        "userinfo_endpoint": "https://api.casexchange.com/api/oauth/userinfo",
        "revocation_endpoint": "https://api.casexchange.com/api/oauth/revoke",
        "jwks_uri": "https://api.casexchange.com/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "scopes_supported": ["openid", "email", "profile", "cases:read", "cases:write", "user:read", "firm:read"]
    });
    for (field, value) in guide.as_object().unwrap() {
        if field == "grant_types_supported" {
            continue;
        }
        assert_eq!(&oidc[field], value, "{field}");
    }
    // The guide's grant types, then client_credentials for machine clients.
    assert_eq!(
        oidc["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    // The guide's two methods, in its order, then `none` for public clients.
    assert_eq!(
        oidc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "client_secret_basic", "none"])
    );
    assert_eq!(
        oidc["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "client_secret_basic"])
    );
    let (_, oauth) = app.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(oidc, oauth);
    let (status, jwks) = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

async fn clientcasa_metadata_uses_its_paths(backend: Backend) {
    let options = Options {
        config_file: Some(example("clientcasa.toml")),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let issuer = app.base_url.clone();
    let (_, metadata) = app.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(metadata["issuer"], issuer.as_str());
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{issuer}/api/auth/oauth2/authorize")
    );
    assert_eq!(
        metadata["token_endpoint"],
        format!("{issuer}/api/auth/oauth2/token")
    );
    assert_eq!(
        metadata["revocation_endpoint"],
        format!("{issuer}/api/auth/oauth2/revoke")
    );
    assert_eq!(
        metadata["introspection_endpoint"],
        format!("{issuer}/api/auth/oauth2/introspect")
    );
    assert_eq!(metadata["jwks_uri"], format!("{issuer}/api/auth/jwks"));
    let scopes = metadata["scopes_supported"].as_array().unwrap();
    for scope in ["openid", "offline_access", "read:clients", "write:invoices"] {
        assert!(scopes.contains(&json!(scope)), "{scope}");
    }
    assert!(
        metadata["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("organizationId"))
    );
    let (status, jwks) = app.get_json("/api/auth/jwks").await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    let (status, _) = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(status, 404, "the JWKS lives only at the configured path");
}

async fn jwks_publishes_the_signing_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["e"], "AQAB");
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    // 2048-bit modulus: 256 bytes, 342 base64url characters.
    assert_eq!(key["n"].as_str().unwrap().len(), 342);
    assert!(
        key.get("d").is_none() && key.get("p").is_none(),
        "no private parts"
    );
    let stored = app.state.store.list_signing_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].kid, key["kid"].as_str().unwrap());
}
