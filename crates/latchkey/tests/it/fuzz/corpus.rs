//! The seed corpus: a server with data to aim at (alice in two
//! organizations, a confidential and a public client, a session, an API
//! key, a case and a customer, and throwaway "victim" records for the
//! admin routes and dashboard pages that change or delete), and one valid
//! request to every endpoint (dynamic client registration's included), built fresh each time so codes and refresh
//! tokens are unused.

use serde_json::{Value, json};

use latchkey::secret::{generate_token, pkce_s256_challenge};

use super::mutate::Req;
use super::{Fixture, Outcome};
use crate::user_agent::{hidden_inputs, query_of};

pub const REDIRECT: &str = "https://fuzz.example/cb";
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:8080/cb";
pub const SCOPE: &str = "openid email profile offline_access cases:read cases:write user:read firm:read";

/// Access, refresh and ID token of one grant of the confidential client.
#[derive(Clone, Default)]
pub struct Material {
    pub access: String,
    pub refresh: String,
    pub id_token: String,
}

/// Throwaway records for the admin routes that change or delete.
#[derive(Default)]
pub struct Victims {
    pub user_id: String,
    pub organization_id: String,
    pub client_id: String,
    /// An app alice's organization owns, for the dashboard's pages.
    pub dashboard_client_id: String,
}

impl Fixture {
    fn cookies(&self) -> String {
        format!("latchkey_session={}; latchkey_csrf={}", self.session, self.csrf)
    }

    /// The form token for the CSRF cookie with `session` (empty: none), as
    /// the server's pages would render it.
    fn form_token(&self, session: &str) -> String {
        let cookie = format!("latchkey_session={session}; latchkey_csrf={}", self.csrf);
        let headers = axum::http::HeaderMap::from_iter([(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_str(&cookie).unwrap(),
        )]);
        let state = &self.app.state;
        latchkey::http::cookies::csrf_token(&state.form_key, &state.config, &headers).0
    }

    fn admin(&self, method: &str, path: &str) -> Req {
        Req::new(method, &format!("/api/v1/admin{path}")).header("x-admin-api-key", crate::helpers::ADMIN_KEY)
    }

    /// Sends a setup request, which must be answered without a server error.
    pub async fn must(&mut self, request: Req) -> (u16, Option<String>, Vec<u8>) {
        match self.send(&request).await {
            Outcome::Answered {
                status,
                location,
                body,
            } if status < 500 => (status, location, body),
            other => panic!("setup request failed ({other}):\n{request}"),
        }
    }

    /// An admin API call's `data`; `null` when it was refused (a fuzzed
    /// request may have deleted what it names).
    pub async fn admin_json(&mut self, method: &str, path: &str, body: Value) -> Value {
        let request = self.admin(method, path).json(body);
        let (_, _, body) = self.must(request).await;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        json["data"].clone()
    }

    fn authorize_params<'a>(&'a self, public: bool, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
        let (client_id, redirect) = if public {
            (self.public_id.as_str(), PUBLIC_REDIRECT)
        } else {
            (self.client_id.as_str(), REDIRECT)
        };
        vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("scope", SCOPE),
            ("state", "fuzz-state"),
            ("nonce", "fuzz-nonce"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]
    }

    /// A fresh code and its verifier, through the authorization endpoint
    /// (answering the consent page, or signing in again, when needed).
    pub async fn fresh_code(&mut self, public: bool) -> (String, String) {
        let verifier = generate_token("verifier-").expose().to_owned();
        let challenge = pkce_s256_challenge(&verifier);
        for _ in 0..3 {
            let params = self.authorize_params(public, &challenge);
            let request = Req::new("GET", "/api/oauth/authorize")
                .query(&params)
                .header("cookie", &self.cookies());
            let (status, location, body) = self.must(request).await;
            let location = location.unwrap_or_default();
            if let Some(code) = query_of_any(&location).remove("code") {
                return (code, verifier);
            }
            if status == 200 {
                let mut fields: Vec<(String, String)> = hidden_inputs(&String::from_utf8_lossy(&body));
                fields.push(("decision".into(), "approve".into()));
                fields.push(("organization".into(), self.organization_id.clone()));
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                let consent = Req::new("POST", "/consent")
                    .form(&fields)
                    .header("cookie", &self.cookies());
                let (_, location, _) = self.must(consent).await;
                if let Some(code) = query_of_any(&location.unwrap_or_default()).remove("code") {
                    return (code, verifier);
                }
            }
            // Signed out (a fuzzed request may have ended the session).
            self.session = self.new_session().await;
        }
        ("code_unavailable".into(), verifier)
    }

    /// A new grant's tokens, through the code exchange.
    pub async fn fresh_material(&mut self) -> Material {
        let (code, verifier) = self.fresh_code(false).await;
        let request = Req::new("POST", "/api/oauth/token").form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
        ]);
        let (_, _, body) = self.must(request).await;
        let tokens: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text = |name: &str| tokens[name].as_str().unwrap_or("unavailable").to_owned();
        Material {
            access: text("access_token"),
            refresh: text("refresh_token"),
            id_token: text("id_token"),
        }
    }

    /// Builds seed `which` (`0..SEEDS`); may send setup requests first.
    pub async fn seed(&mut self, which: usize) -> Req {
        let material = self.material.clone();
        let bearer = format!("Bearer {}", material.access);
        let api_key = format!("Bearer {}", self.api_key);
        let basic = format!("Basic {}", basic(&self.client_id, &self.client_secret));
        let cookies = self.cookies();
        match which {
            0 => Req::new("GET", "/.well-known/openid-configuration"),
            1 => Req::new("GET", "/.well-known/oauth-authorization-server"),
            2 => Req::new("GET", "/.well-known/jwks.json"),
            3 => Req::new("GET", "/healthz"),
            4 => Req::new("GET", "/readyz"),
            5 => Req::new("GET", "/static/latchkey.css"),
            6 | 7 => {
                let challenge = pkce_s256_challenge(generate_token("v-").expose());
                let params = self.authorize_params(false, &challenge);
                let request = if which == 6 {
                    Req::new("GET", "/api/oauth/authorize").query(&params)
                } else {
                    Req::new("POST", "/api/oauth/authorize").form(&params)
                };
                request.header("cookie", &cookies)
            }
            8 => Req::new("GET", "/api/oauth/authorize")
                .query(&[
                    ("response_type", "code"),
                    ("client_id", &self.client_id),
                    ("redirect_uri", REDIRECT),
                    ("prompt", "login consent"),
                    ("max_age", "0"),
                    ("login_hint", "alice@example.com"),
                ])
                .header("accept", "application/json"),
            9 => {
                let challenge = pkce_s256_challenge(generate_token("v-").expose());
                let params = self.authorize_params(true, &challenge);
                Req::new("GET", "/api/oauth/authorize")
                    .query(&params)
                    .header("cookie", &cookies)
            }
            10 => {
                let decision = if self.flip() { "approve" } else { "deny" };
                let challenge = pkce_s256_challenge(generate_token("v-").expose());
                let mut params = self.authorize_params(false, &challenge);
                let token = self.form_token(&self.session);
                params.extend([
                    ("csrf_token", token.as_str()),
                    ("decision", decision),
                    ("organization", self.organization_id.as_str()),
                ]);
                Req::new("POST", "/consent")
                    .form(&params)
                    .header("cookie", &cookies)
            }
            11..=14 => {
                let public = which == 14;
                let (code, verifier) = self.fresh_code(public).await;
                let mut fields = vec![
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", if public { PUBLIC_REDIRECT } else { REDIRECT }),
                    ("code_verifier", verifier.as_str()),
                ];
                match which {
                    11 => Req::new("POST", "/api/oauth/token")
                        .form(&fields)
                        .header("authorization", &basic),
                    12 => {
                        fields.extend([
                            ("client_id", self.client_id.as_str()),
                            ("client_secret", self.client_secret.as_str()),
                        ]);
                        Req::new("POST", "/api/oauth/token").form(&fields)
                    }
                    13 => {
                        let object: serde_json::Map<String, Value> = fields
                            .iter()
                            .map(|(n, v)| ((*n).to_owned(), Value::from(*v)))
                            .collect();
                        Req::new("POST", "/api/oauth/token")
                            .json(Value::Object(object))
                            .header("authorization", &basic)
                    }
                    _ => {
                        fields.push(("client_id", self.public_id.as_str()));
                        Req::new("POST", "/api/oauth/token").form(&fields)
                    }
                }
            }
            15..=18 => {
                // These use up or end the grant: each gets one of its own.
                let own = self.fresh_material().await;
                let secret = self.client_secret.clone();
                let client_id = self.client_id.clone();
                match which {
                    15 => Req::new("POST", "/api/oauth/token")
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", &own.refresh)])
                        .header("authorization", &basic),
                    16 => Req::new("POST", "/api/oauth/token").form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &own.refresh),
                        ("scope", "openid cases:read"),
                        ("client_id", &client_id),
                        ("client_secret", &secret),
                    ]),
                    17 => Req::new("POST", "/api/oauth/revoke")
                        .form(&[("token", &own.refresh), ("token_type_hint", "refresh_token")])
                        .header("authorization", &basic),
                    _ => Req::new("POST", "/api/oauth/revoke").form(&[
                        ("token", &own.access),
                        ("token_type_hint", "access_token"),
                        ("client_id", &client_id),
                        ("client_secret", &secret),
                    ]),
                }
            }
            19 => Req::new("POST", "/api/oauth/introspect")
                .form(&[("token", &material.access)])
                .header("authorization", &basic),
            20 => Req::new("POST", "/api/oauth/introspect")
                .json(json!({"token": material.refresh, "token_type_hint": "refresh_token"}))
                .header("authorization", &basic),
            21 => Req::new("GET", "/api/oauth/userinfo").header("authorization", &bearer),
            22 => Req::new("POST", "/api/oauth/userinfo").form(&[("access_token", &material.access)]),
            23 => Req::new("GET", "/login").query(&[
                ("return_to", "/settings/connected-apps"),
                ("login_hint", "alice@example.com"),
            ]),
            24 => Req::new("POST", "/login")
                .form(&[
                    ("csrf_token", &self.form_token("")),
                    ("email", crate::user_agent::ALICE.0),
                    ("password", crate::user_agent::ALICE.1),
                    ("return_to", "/settings/connected-apps"),
                ])
                .header("cookie", &format!("latchkey_csrf={}", self.csrf)),
            25 => Req::new("GET", "/logout").header("cookie", &cookies),
            26 => {
                let throwaway = self.new_session().await;
                Req::new("POST", "/logout")
                    .form(&[("csrf_token", &self.form_token(&throwaway))])
                    .header(
                        "cookie",
                        &format!("latchkey_session={throwaway}; latchkey_csrf={}", self.csrf),
                    )
            }
            27 => Req::new("GET", "/settings/connected-apps").header("cookie", &cookies),
            28 => Req::new("POST", "/settings/connected-apps/revoke")
                .form(&[
                    ("csrf_token", &self.form_token(&self.session)),
                    ("client_id", &self.client_id),
                    ("organization_id", &self.organization_id),
                ])
                .header("cookie", &cookies),
            29 => self.admin("GET", "/oauth-clients"),
            30 => self.admin("POST", "/oauth-clients").json(json!({
                "name": "Fuzzed", "description": "d", "redirectUris": [REDIRECT],
                "allowed_scopes": ["openid", "email"], "homepageUrl": "https://fuzz.example",
                "tokenEndpointAuthMethod": "client_secret_post",
            })),
            31 => self.admin("GET", &format!("/oauth-clients/{}", self.victims.client_id)),
            32 => self
                .admin("PATCH", &format!("/oauth-clients/{}", self.victims.client_id))
                .json(json!({"name": "Renamed", "redirectUris": [REDIRECT], "logoUrl": null})),
            33 => self.admin(
                "POST",
                &format!("/oauth-clients/{}/rotate-secret", self.victims.client_id),
            ),
            34 => self.admin(
                "POST",
                &format!("/oauth-clients/{}/disable", self.victims.client_id),
            ),
            35 => self.admin(
                "POST",
                &format!("/oauth-clients/{}/enable", self.victims.client_id),
            ),
            36 => {
                let client = self
                    .admin_json(
                        "POST",
                        "/oauth-clients",
                        json!({"name": "Doomed", "redirectUris": [REDIRECT], "allowed_scopes": ["openid"]}),
                    )
                    .await;
                self.admin(
                    "DELETE",
                    &format!(
                        "/oauth-clients/{}",
                        client["clientId"].as_str().unwrap_or_default()
                    ),
                )
            }
            37 => self.admin("GET", "/users"),
            38 => self.admin("POST", "/users").json(json!({
                "email": format!("{}@fuzz.example", generate_token("u").expose()),
                "name": "Fuzzed", "password": "a fuzzed password", "emailVerified": true,
            })),
            39 => self.admin("GET", &format!("/users/{}", self.victims.user_id)),
            40 => {
                let user = self.new_user().await;
                self.admin("DELETE", &format!("/users/{user}"))
            }
            41 => self.admin("GET", &format!("/users/{}/memberships", self.alice_id)),
            42 => self.admin("GET", &format!("/users/{}/connected-apps", self.alice_id)),
            43 => self.admin(
                "DELETE",
                &format!(
                    "/users/{}/connected-apps/{}/{}",
                    self.alice_id, self.organization_id, self.client_id
                ),
            ),
            44 => self.admin("GET", "/audit-events").query(&[("limit", "5")]),
            45 => self
                .admin(
                    "POST",
                    &format!("/organizations/{}/api-keys", self.organization_id),
                )
                .json(json!({"name": "Fuzzed key", "scopes": ["cases:read"]})),
            46 => self.admin(
                "GET",
                &format!("/organizations/{}/api-keys", self.organization_id),
            ),
            47 => {
                let path = format!("/organizations/{}/api-keys", self.organization_id);
                let key = self
                    .admin_json("POST", &path, json!({"name": "Doomed", "scopes": ["cases:read"]}))
                    .await;
                self.admin(
                    "DELETE",
                    &format!("{path}/{}", key["id"].as_str().unwrap_or_default()),
                )
            }
            48 => self.admin("GET", "/organizations"),
            49 => self
                .admin("POST", "/organizations")
                .json(json!({"name": "Fuzzed Firm"})),
            50 => self.admin("GET", &format!("/organizations/{}", self.victims.organization_id)),
            51 => {
                let organization = self
                    .admin_json("POST", "/organizations", json!({"name": "Doomed Firm"}))
                    .await;
                self.admin(
                    "DELETE",
                    &format!(
                        "/organizations/{}",
                        organization["id"].as_str().unwrap_or_default()
                    ),
                )
            }
            52 => self
                .admin(
                    "POST",
                    &format!("/organizations/{}/members", self.victims.organization_id),
                )
                .json(json!({"userId": self.victims.user_id, "role": "ATTORNEY"})),
            53 => self.admin(
                "GET",
                &format!("/organizations/{}/members", self.victims.organization_id),
            ),
            54 | 55 => {
                let path = format!(
                    "/organizations/{}/members/{}",
                    self.victims.organization_id, self.victims.user_id
                );
                if which == 54 {
                    self.admin("PUT", &path).json(json!({"role": "FIRM_ADMIN"}))
                } else {
                    self.admin("DELETE", &path)
                }
            }
            56 => Req::new("GET", "/api/v1/admin/openapi.json"),
            57 => Req::new("GET", "/api/v1/cases")
                .query(&[("limit", "2"), ("cursor", "")])
                .header("authorization", &bearer),
            58 => Req::new("POST", "/api/v1/cases")
                .json(json!({"title": "Fuzzed case", "status": "open"}))
                .header("authorization", &bearer),
            59 => {
                Req::new("GET", &format!("/api/v1/cases/{}", self.case_id)).header("authorization", &bearer)
            }
            60 => Req::new("GET", "/api/v1/clients")
                .query(&[("limit", "1")])
                .header("authorization", &api_key),
            61 => Req::new("GET", &format!("/api/v1/clients/{}", self.customer_id))
                .header("authorization", &api_key),
            62 => Req::new("POST", "/api/v1/invoices")
                .json(json!({"client_id": self.customer_id, "amount_cents": 1250, "currency": "USD"}))
                .header("authorization", &api_key),
            63 => Req::new("GET", "/api/v1/me").header("authorization", &bearer),
            64 => Req::new("GET", "/api/v1/firm").header("authorization", &api_key),
            79..=82 => self.registration_seed(which).await,
            _ => self.dashboard_seed(which).await,
        }
    }

    /// Dynamic client registration's seeds (79 to 82): a registration, and
    /// the read, update and delete of a fresh one with its token.
    async fn registration_seed(&mut self, which: usize) -> Req {
        let metadata = json!({
            "client_name": "Fuzzed agent",
            "redirect_uris": [PUBLIC_REDIRECT, "cursor://anysphere.cursor-retrieval/oauth/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid email",
            "software_id": "fuzz",
        });
        let register = Req::new("POST", "/api/oauth/register").json(metadata.clone());
        if which == 79 {
            return register;
        }
        let (_, _, body) = self.must(register).await;
        let registered: Value = serde_json::from_slice(&body).unwrap_or_default();
        let path = format!(
            "/api/oauth/register/{}",
            registered["client_id"].as_str().unwrap_or_default()
        );
        let bearer = format!(
            "Bearer {}",
            registered["registration_access_token"]
                .as_str()
                .unwrap_or_default()
        );
        let request = match which {
            80 => Req::new("GET", &path),
            81 => Req::new("PUT", &path).json(metadata),
            _ => Req::new("DELETE", &path),
        };
        request.header("authorization", &bearer)
    }

    /// The developer dashboard's seeds (65 and up), as alice, who
    /// administers the organization.
    async fn dashboard_seed(&mut self, which: usize) -> Req {
        let cookies = self.cookies();
        let token = self.form_token(&self.session);
        let organization = self.organization_id.clone();
        let app = format!("/settings/oauth-apps/{}", self.victims.dashboard_client_id);
        let app_fields = [
            ("csrf_token", token.as_str()),
            ("organization", organization.as_str()),
            ("name", "Fuzzed dashboard app"),
            ("description", "d"),
            ("homepage_url", "https://fuzz.example"),
            ("logo_url", ""),
            (
                "redirect_uris",
                "https://fuzz.example/cb\nhttp://localhost:3000/cb",
            ),
            ("scopes", "openid"),
            ("scopes", "cases:read"),
        ];
        let only_token = [("csrf_token", token.as_str())];
        let request = match which {
            65 => Req::new("GET", "/settings/oauth-apps").query(&[("organization", &organization)]),
            66 => Req::new("GET", "/settings/oauth-apps/new").query(&[("organization", &organization)]),
            67 => Req::new("POST", "/settings/oauth-apps/new").form(&app_fields),
            68 => Req::new("GET", &app),
            69 => Req::new("GET", &format!("{app}/edit")),
            70 => Req::new("POST", &format!("{app}/edit")).form(&app_fields),
            71 => Req::new("POST", &format!("{app}/rotate-secret")).form(&only_token),
            72 => Req::new("POST", &format!("{app}/disable")).form(&only_token),
            73 => Req::new("POST", &format!("{app}/enable")).form(&only_token),
            74 => {
                let body = json!({
                    "name": "Doomed", "redirectUris": [REDIRECT], "allowed_scopes": ["openid"],
                    "organizationId": organization,
                });
                let client = self.admin_json("POST", "/oauth-clients", body).await;
                let doomed = client["clientId"].as_str().unwrap_or_default();
                Req::new("POST", &format!("/settings/oauth-apps/{doomed}/delete")).form(&only_token)
            }
            75 => Req::new("GET", "/settings/api-keys").query(&[("organization", &organization)]),
            76 => Req::new("POST", "/settings/api-keys").form(&[
                ("csrf_token", token.as_str()),
                ("organization", organization.as_str()),
                ("name", "Fuzzed dashboard key"),
                ("scopes", "cases:read"),
            ]),
            77 => Req::new("GET", "/static/copy.js"),
            _ => {
                let path = format!("/organizations/{organization}/api-keys");
                let key = self
                    .admin_json("POST", &path, json!({"name": "Doomed", "scopes": ["cases:read"]}))
                    .await;
                Req::new("POST", "/settings/api-keys/revoke").form(&[
                    ("csrf_token", token.as_str()),
                    ("organization", organization.as_str()),
                    ("key_id", key["id"].as_str().unwrap_or_default()),
                ])
            }
        };
        request.header("cookie", &cookies)
    }
}

/// The sign-in form's seed.
pub const SIGN_IN: usize = 24;

/// How many seeds [`Fixture::seed`] knows.
pub const SEEDS: usize = 83;

/// Seeds after which the shared grant may be gone.
pub fn ends_the_shared_grant(which: usize) -> bool {
    matches!(which, 28 | 43)
}

/// RFC 6749 §2.3.1: form-urlencoded, joined, base64.
pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
}

/// The query of a redirect target, which may be a path or an absolute URL.
fn query_of_any(location: &str) -> std::collections::HashMap<String, String> {
    if location.starts_with("http") {
        query_of(location)
    } else {
        std::collections::HashMap::new()
    }
}
