//! The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID
//! Connect Core §3.1.2.1): parsing, validation, and the two kinds of
//! failure — a page while the client or redirect URI is unverified, a
//! redirect (with `state` and `iss`, RFC 9207) once they are.

use std::collections::HashMap;

use url::Url;

use super::client_id_metadata::UrlClients;
use super::error::{ErrorCode, OAuthError};
use super::pkce::{self, ChallengeMethod};
use super::scope::ScopeSet;
use crate::accounts::amr;
use crate::clients::metadata_document;
use crate::clients::redirect_uri;
use crate::config::Config;
use crate::store::{ClientRecord, ScopeReviewStatus, Store};

/// The text the integration guide shows for an unregistered redirect URI.
pub const UNREGISTERED_REDIRECT_URI: &str = "redirect_uri is not registered for this client";

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_LOGIN_HINT: usize = 254;
const MAX_ORGANIZATION_ID: usize = 200;

/// The parameter naming the organization the authorization acts on (a
/// Latchkey extension; without it the user chooses on the consent page).
pub const ORGANIZATION_PARAMETER: &str = "organization_id";

/// What `prompt` asked for (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: ClientRecord,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scopes: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<(String, ChallengeMethod)>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The organization the client asks to act on (`organization_id`);
    /// whether the user belongs to it is decided after sign-in.
    pub organization_id: Option<String>,
    /// The resources asked for (RFC 8707), as their configured
    /// identifiers; empty when the request named none.
    pub resources: Vec<String>,
    /// `acr_values` names a class of two factors or more
    /// (`urn:latchkey:acr:2fa`, or `phr`).
    pub wants_multi_factor: bool,
    /// `acr_values` names `phr`: a passkey, when the user has one.
    pub wants_phishing_resistant: bool,
}

/// Why an authorization request failed.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or the redirect URI is not verified: show this message on
    /// a page (or as JSON), never redirect. `app_name` names the client
    /// when it is registered (disabled, or its redirect URI is the problem).
    Page {
        error: OAuthError,
        app_name: Option<String>,
    },
    /// Send the error to the client's verified redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

impl AuthorizeError {
    fn page(code: ErrorCode, description: impl Into<String>) -> Self {
        Self::Page {
            error: OAuthError::new(code, description),
            app_name: None,
        }
    }

    /// The same page error, naming the registered client it concerns.
    fn for_app(self, client: &ClientRecord) -> Self {
        match self {
            Self::Page { error, .. } => Self::Page {
                error,
                app_name: Some(client.name.clone()),
            },
            redirect @ Self::Redirect { .. } => redirect,
        }
    }
}

/// The request's parameters, with duplicates remembered (RFC 6749 §3.1:
/// a parameter must not appear more than once; an empty value counts as
/// absent), and the values of those that may repeat (`resource`).
struct Params<'a> {
    values: HashMap<&'a str, &'a str>,
    repeated: Vec<&'a str>,
    resources: Vec<&'a str>,
}

impl<'a> Params<'a> {
    fn new(pairs: &'a [(String, String)]) -> Self {
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        let mut resources = Vec::new();
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            if name == super::resource::PARAMETER {
                resources.push(value.as_str());
                continue;
            }
            if values.insert(name.as_str(), value.as_str()).is_some() && !repeated.contains(&name.as_str()) {
                repeated.push(name.as_str());
            }
        }
        Self {
            values,
            repeated,
            resources,
        }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.values.get(name).copied()
    }

    fn is_repeated(&self, name: &str) -> bool {
        self.repeated.contains(&name)
    }
}

/// Validates an authorization request given as name/value pairs (query or
/// form body). A `client_id` that is a URL is resolved by `url_clients`.
pub async fn validate(
    store: &dyn Store,
    config: &Config,
    url_clients: &UrlClients,
    pairs: &[(String, String)],
    now: i64,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let params = Params::new(pairs);
    let client = verify_client(store, config, url_clients, &params, now).await?;
    let (redirect_uri, redirect_uri_given) =
        verify_redirect_uri(&client, &params).map_err(|e| e.for_app(&client))?;

    // From here on, errors go back to the client's redirect URI.
    let state = if params.is_repeated("state") {
        None
    } else {
        params.get("state").map(str::to_owned)
    };
    let fail = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };
    if let Some(name) = params.repeated.first() {
        return Err(fail(OAuthError::invalid_request(format!(
            "the parameter {name} is given more than once"
        ))));
    }
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(fail(OAuthError::invalid_request(
            "state is longer than 2048 characters",
        )));
    }
    match params.get("response_type") {
        None => {
            return Err(fail(OAuthError::invalid_request(
                "response_type is required; use response_type=code",
            )));
        }
        Some("code") => {}
        Some(other) => {
            return Err(fail(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type `{other}` is not supported; use response_type=code"),
            )));
        }
    }
    // RFC 6749 §4.1.2.1 unauthorized_client: a client without the code
    // flow (a machine client) may not start one.
    super::grant_type::require_allowed(&client, super::grant_type::GrantType::AuthorizationCode)
        .map_err(&fail)?;
    if let Some(mode) = params.get("response_mode").filter(|m| *m != "query") {
        return Err(fail(OAuthError::invalid_request(format!(
            "response_mode `{mode}` is not supported; responses use the query"
        ))));
    }
    let scopes = match requested_scopes(config, &client, params.get("scope")) {
        Ok(scopes) => scopes,
        Err(ScopeRefusal::Invalid(error)) => return Err(fail(error)),
        Err(ScopeRefusal::NotAllowed(scope)) => {
            return Err(fail(not_allowed(store, &client, &scope).await));
        }
    };
    let resources = super::resource::for_authorization(config, &params.resources, &scopes).map_err(&fail)?;
    let code_challenge = pkce_challenge(config, &client, &params).map_err(&fail)?;
    let prompt = parse_prompt(params.get("prompt")).map_err(&fail)?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(text) => Some(text.parse::<u32>().map(i64::from).map_err(|_| {
            fail(OAuthError::invalid_request(
                "max_age must be a non-negative number of seconds",
            ))
        })?),
    };
    let nonce = params.get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(fail(OAuthError::invalid_request(
            "nonce is longer than 512 characters",
        )));
    }
    let login_hint = params
        .get("login_hint")
        .filter(|h| h.len() <= MAX_LOGIN_HINT)
        .map(str::to_owned);
    let organization_id = params.get(ORGANIZATION_PARAMETER).map(str::to_owned);
    if organization_id
        .as_ref()
        .is_some_and(|id| id.len() > MAX_ORGANIZATION_ID)
    {
        return Err(fail(OAuthError::invalid_request(
            "organization_id is longer than 200 characters",
        )));
    }
    // OpenID Connect Core §3.1.2.1: `acr_values` is a voluntary request,
    // in order of preference; values this server does not know are passed
    // over.
    let acr_values: Vec<&str> = params
        .get("acr_values")
        .map(|values| values.split(' ').collect())
        .unwrap_or_default();
    let wants_phishing_resistant = acr_values.contains(&amr::ACR_PHISHING_RESISTANT);
    let wants_multi_factor = wants_phishing_resistant || acr_values.contains(&amr::ACR_TWO_FACTORS);
    Ok(AuthorizationRequest {
        client,
        redirect_uri,
        redirect_uri_given,
        scopes,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint,
        organization_id,
        resources,
        wants_multi_factor,
        wants_phishing_resistant,
    })
}

async fn verify_client(
    store: &dyn Store,
    config: &Config,
    url_clients: &UrlClients,
    params: &Params<'_>,
    now: i64,
) -> Result<ClientRecord, AuthorizeError> {
    if params.is_repeated("client_id") {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            "client_id is given more than once",
        ));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            "client_id is required",
        ));
    };
    // A client known by URL is stored only for a request whose redirect
    // URI its document lists, so that URI must be unambiguous first.
    if metadata_document::is_url(client_id) && params.is_repeated("redirect_uri") {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            "redirect_uri is given more than once",
        ));
    }
    let redirect_uri = params.get("redirect_uri");
    let client = url_clients
        .find(store, config, client_id, redirect_uri, now)
        .await
        .map_err(|error| AuthorizeError::Page {
            // A client known by URL is named by its host.
            app_name: metadata_document::display_host(client_id),
            error,
        })?
        .ok_or_else(|| {
            AuthorizeError::page(ErrorCode::InvalidClient, "client_id is not a registered client")
        })?;
    if !client.enabled {
        return Err(
            AuthorizeError::page(ErrorCode::UnauthorizedClient, "this client is disabled").for_app(&client),
        );
    }
    Ok(client)
}

/// RFC 6749 §3.1.2.3 and RFC 9700 §4.1.3: exact string comparison against
/// the registered URIs; omission only when exactly one is registered. For
/// a client that registered itself, the port of a loopback redirect URI is
/// the app's to choose at request time (RFC 8252 §7.3).
fn verify_redirect_uri(client: &ClientRecord, params: &Params<'_>) -> Result<(String, bool), AuthorizeError> {
    if params.is_repeated("redirect_uri") {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            "redirect_uri is given more than once",
        ));
    }
    let any_loopback_port = !client.origin.is_verified();
    match params.get("redirect_uri") {
        Some(uri)
            if client
                .redirect_uris
                .iter()
                .any(|registered| redirect_uri::matches(registered, uri, any_loopback_port)) =>
        {
            Ok((uri.to_owned(), true))
        }
        Some(_) => Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            UNREGISTERED_REDIRECT_URI,
        )),
        None => match client.redirect_uris.as_slice() {
            [only] => Ok((only.clone(), false)),
            _ => Err(AuthorizeError::page(
                ErrorCode::InvalidRequest,
                "redirect_uri is required: this client has several registered",
            )),
        },
    }
}

/// Why the requested scopes were refused.
enum ScopeRefusal {
    /// Malformed or unknown.
    Invalid(OAuthError),
    /// A known scope outside the client's allowed scopes.
    NotAllowed(String),
}

impl From<OAuthError> for ScopeRefusal {
    fn from(error: OAuthError) -> Self {
        Self::Invalid(error)
    }
}

/// RFC 6749 §3.3: omitted scope means the client's allowed scopes (the
/// documented default); every requested scope must be allowed.
fn requested_scopes(
    config: &Config,
    client: &ClientRecord,
    scope: Option<&str>,
) -> Result<ScopeSet, ScopeRefusal> {
    let allowed = ScopeSet::from_tokens(&client.allowed_scopes).map_err(OAuthError::server_error)?;
    let Some(scope) = scope else {
        return Ok(allowed);
    };
    let requested = ScopeSet::parse(scope)
        .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, format!("scope is malformed: {e}")))?;
    if requested.is_empty() {
        return Ok(allowed);
    }
    if let Some(unknown) = requested.iter().find(|s| config.scope(s).is_none()) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, format!("scope `{unknown}` is unknown")).into());
    }
    if let Some(denied) = requested.missing_from(&allowed).next() {
        return Err(ScopeRefusal::NotAllowed(denied.to_owned()));
    }
    Ok(requested)
}

/// RFC 6749 §4.1.2.1 `invalid_scope` for a scope the client may not ask
/// for, saying whether it awaits the platform's approval or was denied
/// (the denial's reason is for the app's admins, not for this redirect).
async fn not_allowed(store: &dyn Store, client: &ClientRecord, scope: &str) -> OAuthError {
    let description = match store.find_scope_review(&client.client_id, scope).await {
        Err(error) => return OAuthError::from(error),
        Ok(None) => format!("scope `{scope}` is not allowed for this client"),
        Ok(Some(review)) => match review.status {
            ScopeReviewStatus::Pending => {
                format!("scope `{scope}` is awaiting the platform's approval for this client")
            }
            ScopeReviewStatus::Denied => {
                format!("scope `{scope}` was denied for this client by the platform")
            }
        },
    };
    OAuthError::new(ErrorCode::InvalidScope, description)
}

/// RFC 7636 §4.3, RFC 9700 §2.1.1: PKCE required for public clients (and
/// for all when configured); `plain` when the method is omitted.
fn pkce_challenge(
    config: &Config,
    client: &ClientRecord,
    params: &Params<'_>,
) -> Result<Option<(String, ChallengeMethod)>, OAuthError> {
    let method = params.get("code_challenge_method");
    let Some(challenge) = params.get("code_challenge") else {
        if method.is_some() {
            return Err(OAuthError::invalid_request(
                "code_challenge_method is given without code_challenge",
            ));
        }
        let public = client.secret_digest.is_none();
        if public || config.oauth.require_pkce_for_all || !client.origin.is_verified() {
            return Err(OAuthError::invalid_request(if public {
                "code_challenge is required: public clients must use PKCE (S256)"
            } else if !client.origin.is_verified() {
                "code_challenge is required: registered clients must use PKCE (S256)"
            } else {
                "code_challenge is required: this server requires PKCE for every client"
            }));
        }
        return Ok(None);
    };
    let method = match method {
        None => ChallengeMethod::Plain,
        Some(text) => ChallengeMethod::parse(text).ok_or_else(|| {
            OAuthError::invalid_request(format!(
                "code_challenge_method `{text}` is not supported; use S256"
            ))
        })?,
    };
    // A client the platform has not verified uses S256 (OAuth 2.1, MCP).
    if method == ChallengeMethod::Plain && !client.origin.is_verified() {
        return Err(OAuthError::invalid_request(
            "code_challenge_method must be S256 for this client",
        ));
    }
    if !pkce::is_valid_verifier(challenge) {
        return Err(OAuthError::invalid_request(
            "code_challenge must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'",
        ));
    }
    Ok(Some((challenge.to_owned(), method)))
}

fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut parsed = Prompt::default();
    for value in prompt.unwrap_or_default().split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => parsed.none = true,
            "login" => parsed.login = true,
            "consent" => parsed.consent = true,
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "prompt `{other}` is not supported; use none, login or consent"
                )));
            }
        }
    }
    if parsed.none && (parsed.login || parsed.consent) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(parsed)
}

/// The redirect carrying a code (RFC 6749 §4.1.2) or an error (§4.1.2.1),
/// with `state` and `iss` (RFC 9207). Parameters are appended to any query
/// the registered URI has.
pub fn redirect_url(
    redirect_uri: &str,
    issuer: &str,
    outcome: Result<&str, &OAuthError>,
    state: Option<&str>,
) -> String {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        match outcome {
            Ok(code) => {
                query.append_pair("code", code);
            }
            Err(error) => {
                query.append_pair("error", error.code.as_str());
                query.append_pair("error_description", &error.description);
            }
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn prompt_values() {
        assert_eq!(
            parse_prompt(Some("login consent")).unwrap(),
            Prompt {
                none: false,
                login: true,
                consent: true
            }
        );
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("select_account")).is_err());
        assert_eq!(parse_prompt(None).unwrap(), Prompt::default());
    }

    #[test]
    fn redirect_keeps_the_registered_query_and_adds_state_and_iss() {
        let url = redirect_url(
            "https://app.example/cb?tenant=1",
            "https://id.example",
            Ok("c1"),
            Some("s 1"),
        );
        assert_eq!(
            url,
            "https://app.example/cb?tenant=1&code=c1&state=s+1&iss=https%3A%2F%2Fid.example"
        );
        let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied access");
        let url = redirect_url("https://app.example/cb", "https://id.example", Err(&error), None);
        assert!(url.contains("error=access_denied&error_description=the+user+denied+access&iss="));
    }

    proptest! {
        /// The authorization endpoint keeps its own view of the parameters
        /// (it must tell which one is repeated before the redirect URI is
        /// known); it must agree with the shared rule in `params`.
        #[test]
        fn parameters_agree_with_the_shared_rule(
            pairs in proptest::collection::vec(("[abc]{0,2}", "[xy]{0,1}"), 0..8),
            name in "[abc]{0,2}",
        ) {
            let own = Params::new(&pairs);
            let shared = crate::oauth::params::reject_repeated(&pairs);
            prop_assert_eq!(own.repeated.is_empty(), shared.is_ok());
            prop_assert_eq!(own.is_repeated(&name), pairs.iter().filter(|(n, v)| *n == name && !v.is_empty()).count() > 1);
            if shared.is_ok() {
                prop_assert_eq!(own.get(&name), crate::oauth::params::get(&pairs, &name));
            }
        }

        #[test]
        fn prompt_accepts_only_lists_of_known_values(prompt in "( |none|login|consent|select_account|x){0,4}") {
            let values: Vec<&str> = prompt.split(' ').filter(|v| !v.is_empty()).collect();
            let known = values.iter().all(|v| matches!(*v, "none" | "login" | "consent"));
            let none_alone = !values.contains(&"none") || values.iter().all(|v| *v == "none");
            match parse_prompt(Some(&prompt)) {
                Ok(parsed) => {
                    prop_assert!(known && none_alone);
                    prop_assert_eq!(parsed.none, values.contains(&"none"));
                    prop_assert_eq!(parsed.login, values.contains(&"login"));
                    prop_assert_eq!(parsed.consent, values.contains(&"consent"));
                }
                Err(_) => prop_assert!(!(known && none_alone)),
            }
        }

        #[test]
        fn redirects_carry_code_state_and_iss_back_exactly(
            code in any::<String>(),
            state in proptest::option::of(any::<String>()),
            query in "(tenant=[a-z0-9]{1,5})?",
        ) {
            let registered = if query.is_empty() {
                "https://app.example/cb".to_owned()
            } else {
                format!("https://app.example/cb?{query}")
            };
            let url = redirect_url(&registered, "https://id.example", Ok(&code), state.as_deref());
            let parsed = Url::parse(&url);
            prop_assert!(parsed.is_ok(), "{}", url);
            let pairs: Vec<(String, String)> = parsed
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
            let mut expected: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            expected.push(("code".into(), code));
            if let Some(state) = state {
                expected.push(("state".into(), state));
            }
            expected.push(("iss".into(), "https://id.example".into()));
            prop_assert_eq!(pairs, expected);
        }
    }

    #[test]
    fn empty_and_repeated_parameters() {
        let pairs = vec![
            ("state".to_owned(), "a".to_owned()),
            ("state".to_owned(), "b".to_owned()),
            ("nonce".to_owned(), String::new()),
        ];
        let params = Params::new(&pairs);
        assert!(params.is_repeated("state"));
        assert_eq!(params.get("nonce"), None);
    }
}
