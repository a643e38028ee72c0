//! `GET /demo/callback`, served only by `serve --demo`: the demo app's
//! redirect URI, where the printed authorization URL ends. The handler
//! hands the authorization response to `demo::callback`, which checks it
//! and exchanges the code, and shows what came back: the token response,
//! both tokens decoded, and copy-ready curl commands against this server.
//! Every value here is a secret: the page is sent `no-store` (as every
//! page is) and nothing of it is logged.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Brand, render};
use crate::config::Config;
use crate::demo::DemoClient;
use crate::demo::callback::{self, AuthorizationResponse, CallbackError, DecodedJwt, decode_jwt};
use crate::http::oauth::{RETRY_AFTER_SECONDS, log_cause, status_of};
use crate::http::{AppState, query_pairs};
use crate::oauth::error::ErrorCode;
use crate::oauth::token::TokenResponse;
use crate::unix_now;

/// One command to copy, with what it shows.
pub struct CurlCommand {
    pub id: &'static str,
    pub title: &'static str,
    pub note: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "demo_callback.html")]
pub struct DemoTokensPage {
    pub brand: Brand,
    /// Who approved, for which organization, from the access token.
    pub summary: String,
    /// The token endpoint's answer as indented JSON.
    pub token_response: String,
    pub access_token: Option<DecodedJwt>,
    pub id_token: Option<DecodedJwt>,
    pub jwks_url: String,
    pub commands: Vec<CurlCommand>,
    pub start_again: String,
}

#[derive(Template)]
#[template(path = "demo_error.html")]
pub struct DemoErrorPage {
    pub brand: Brand,
    pub heading: &'static str,
    pub message: String,
    /// The OAuth error code and description, when there is one.
    pub error: Option<(String, Option<String>)>,
    /// The code of a response with another state, left unused.
    pub unused_code: Option<String>,
    pub start_again: String,
}

/// `GET /demo/callback?code=…&state=…&iss=…` (or `?error=…`).
pub async fn callback(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let Some(demo) = state.demo.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let config = &state.config;
    let pairs = query_pairs(query);
    let response = AuthorizationResponse::from_pairs(&pairs);
    let ring = state.keys.ring();
    let store = state.store.as_ref();
    match callback::complete(store, config, &ring, &state.metrics, demo, response, unix_now()).await {
        Ok(tokens) => render(config, StatusCode::OK, &tokens_page(config, demo, &tokens), &[]),
        Err(error) => {
            let (status, page) = error_page(config, demo, error);
            let mut response = render(config, status, &page, &[]);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            }
            response
        }
    }
}

fn tokens_page(config: &Config, demo: &DemoClient, tokens: &TokenResponse) -> DemoTokensPage {
    let access_token = decode_jwt(tokens.access_token.expose());
    DemoTokensPage {
        brand: Brand::new(config),
        summary: summary(config, access_token.as_ref()),
        token_response: serde_json::to_string_pretty(tokens).unwrap_or_default(),
        access_token,
        id_token: tokens.id_token.as_ref().and_then(|t| decode_jwt(t.expose())),
        jwks_url: config.url(&config.paths.jwks),
        commands: curl_commands(config, demo, tokens),
        start_again: demo.authorization_url.clone(),
    }
}

/// "Alice Example (alice@example.com) approved the demo app for Acme
/// Legal, as FIRM_ADMIN." from the access token's claims.
fn summary(config: &Config, access_token: Option<&DecodedJwt>) -> String {
    let claims = access_token.map(|jwt| &jwt.claims);
    let text = |name: Option<&str>| {
        claims?
            .get(name?)?
            .as_str()
            .map(str::to_owned)
            .filter(|t| !t.is_empty())
    };
    let who = match (text(Some("name")), text(Some("email"))) {
        (Some(name), Some(email)) => format!("{name} ({email})"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => "You".to_owned(),
    };
    let mut summary = format!("{who} approved the demo app");
    if let Some(organization) = text(config.claims.tenant_name.as_deref()) {
        summary.push_str(&format!(" for {organization}"));
    }
    if let Some(role) = text(config.claims.role.as_deref()) {
        summary.push_str(&format!(", as {role}"));
    }
    summary.push('.');
    summary
}

/// The example API route each scope opens, in the order one is picked,
/// and what it answers.
const API_CALLS: [(&str, &str, &str); 4] = [
    ("user:read", "/api/v1/me", "who the token acts for"),
    ("cases:read", "/api/v1/cases", "the organization's cases"),
    ("firm:read", "/api/v1/firm", "the organization"),
    ("read:clients", "/api/v1/clients", "the organization's clients"),
];

/// The commands an integrator would run next: first the response's tokens
/// and the demo app's credentials as shell variables, then curl commands
/// that use them.
fn curl_commands(config: &Config, demo: &DemoClient, tokens: &TokenResponse) -> Vec<CurlCommand> {
    let mut variables = vec![
        format!("LK={}", shell_word(&config.issuer)),
        format!("ACCESS_TOKEN={}", shell_word(tokens.access_token.expose())),
    ];
    if let Some(refresh_token) = &tokens.refresh_token {
        variables.push(format!("REFRESH_TOKEN={}", shell_word(refresh_token.expose())));
    }
    variables.push(format!("CLIENT_ID={}", shell_word(&demo.client_id)));
    variables.push(format!(
        "CLIENT_SECRET={}",
        shell_word(demo.client_secret.expose())
    ));
    let url = |path: &str| in_double_quotes(&format!("$LK{path}"));
    let bearer = "-H \"Authorization: Bearer $ACCESS_TOKEN\"";
    let basic = "-u \"$CLIENT_ID:$CLIENT_SECRET\"";
    let mut commands = vec![
        CurlCommand {
            id: "variables",
            title: "Your tokens as shell variables",
            note: "Paste these first: the commands below use them. Like the tokens, they are secrets."
                .to_owned(),
            text: variables.join("\n"),
        },
        CurlCommand {
            id: "userinfo",
            title: "Userinfo",
            note: "The claims the granted scopes allow, read fresh from the database.".to_owned(),
            text: format!("curl -s {} \\\n  {bearer}", url(&config.paths.userinfo)),
        },
    ];
    let granted: Vec<&str> = tokens.scope.split_whitespace().collect();
    if let Some((scope, path, what)) = API_CALLS.iter().find(|(scope, ..)| granted.contains(scope)) {
        commands.push(CurlCommand {
            id: "api",
            title: "The example API",
            note: format!("GET {path} answers with {what}. It needs the {scope} scope, and every call stays inside the organization the token carries."),
            text: format!("curl -s {} \\\n  {bearer}", url(path)),
        });
    }
    let (variable, hint, ends) = match tokens.refresh_token {
        Some(_) => {
            commands.push(CurlCommand {
                id: "refresh",
                title: "Refresh",
                note: "The demo app authenticates with its client_id and client_secret (HTTP Basic), as its server would. The answer carries a new refresh token: each one works once, so set REFRESH_TOKEN to the new one before refreshing again.".to_owned(),
                text: format!(
                    "curl -s {} \\\n  {basic} \\\n  -d grant_type=refresh_token \\\n  -d \"refresh_token=$REFRESH_TOKEN\"",
                    url(&config.paths.token)
                ),
            });
            (
                "$REFRESH_TOKEN",
                "refresh_token",
                "Ends the whole grant, its access tokens and refreshed tokens included",
            )
        }
        None => ("$ACCESS_TOKEN", "access_token", "Ends the access token"),
    };
    commands.push(CurlCommand {
        id: "revoke",
        title: "Revoke",
        note: format!("{ends}: run the userinfo command again and it answers 401. Revocation answers 200 with an empty body."),
        text: format!(
            "curl -s -i {} \\\n  {basic} \\\n  -d \"token={variable}\" \\\n  -d token_type_hint={hint}",
            url(&config.paths.revoke)
        ),
    });
    commands
}

/// `text` as one word for a POSIX shell: as is when it holds only
/// characters no shell treats specially, otherwise in single quotes.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@=%+,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// `text` in double quotes, where the shell expands `$NAME`: every other
/// character a shell would treat specially there is escaped.
fn in_double_quotes(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    let mut rest = text;
    // The leading `$LK` is the one expansion meant.
    if let Some(path) = rest.strip_prefix("$LK") {
        quoted.push_str("$LK");
        rest = path;
    }
    for c in rest.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The status and page of a callback that yielded no tokens.
fn error_page(config: &Config, demo: &DemoClient, error: CallbackError) -> (StatusCode, DemoErrorPage) {
    let product = &config.branding.product_name;
    let mut unused_code = None;
    let (status, heading, message, code) = match error {
        CallbackError::StateMismatch { unused_code: code } => {
            unused_code = code.map(|code| code.expose().to_owned());
            (
                StatusCode::BAD_REQUEST,
                "The state does not match",
                "The state parameter of this response is not the one the demo app sent, so the demo app does not use the response: a client accepts only answers to requests it made itself (RFC 6749 §10.12). Nothing was exchanged.".to_owned(),
                None,
            )
        }
        CallbackError::IssuerMismatch => (
            StatusCode::BAD_REQUEST,
            "The response comes from another server",
            format!(
                "The iss parameter of this response names another authorization server than {product}, so the demo app does not use it (RFC 9207). Nothing was exchanged."
            ),
            None,
        ),
        CallbackError::Refused { error, description } if error == ErrorCode::AccessDenied.as_str() => (
            StatusCode::BAD_REQUEST,
            "Access was denied",
            format!(
                "The request was denied, so {product} sent the browser back with error=access_denied and no code. The demo app gets no tokens."
            ),
            Some((error, description)),
        ),
        CallbackError::Refused { error, description } => (
            StatusCode::BAD_REQUEST,
            "The authorization failed",
            format!("{product} sent the browser back with an error instead of a code."),
            Some((error, description)),
        ),
        CallbackError::MissingCode => (
            StatusCode::BAD_REQUEST,
            "No code came back",
            "The browser arrived without a code or an error, so there is nothing to exchange.".to_owned(),
            None,
        ),
        CallbackError::Exchange(error) => {
            log_cause(&error);
            let status = status_of(error.code);
            let (status, heading, message) = if status.is_server_error() {
                (
                    status,
                    "The token endpoint could not answer",
                    "Wait a few seconds and start again.",
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    "The code was not accepted",
                    "The token endpoint refused the code. A code works only once and only for a few minutes; presenting it again (by reloading this page, say) also revokes the tokens its first use gave (RFC 6749 §4.1.2).",
                )
            };
            (
                status,
                heading,
                message.to_owned(),
                Some((error.code.as_str().to_owned(), Some(error.description))),
            )
        }
    };
    let page = DemoErrorPage {
        brand: Brand::new(config),
        heading,
        message,
        error: code,
        unused_code,
        start_again: demo.authorization_url.clone(),
    };
    (status, page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_a_shell_would_split_them() {
        assert_eq!(
            shell_word("http://localhost:3001/api/oauth/token"),
            "http://localhost:3001/api/oauth/token"
        );
        assert_eq!(shell_word("client_demo:secret_a-b"), "client_demo:secret_a-b");
        assert_eq!(
            shell_word("Authorization: Bearer x.y.z"),
            "'Authorization: Bearer x.y.z'"
        );
        assert_eq!(shell_word("/a&b"), "'/a&b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn only_the_issuer_variable_is_expanded_in_a_url() {
        assert_eq!(
            in_double_quotes("$LK/api/oauth/token"),
            r#""$LK/api/oauth/token""#
        );
        assert_eq!(in_double_quotes("$LK/a$b`c\\d\"e"), r#""$LK/a\$b\`c\\d\"e""#);
    }
}
