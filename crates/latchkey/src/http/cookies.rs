//! The browser cookies: the session cookie and the CSRF cookie, both
//! `HttpOnly`, `SameSite=Lax`, `Path=/`, and with an https issuer `Secure`
//! and named with the `__Host-` prefix (so no subdomain can plant them).
//!
//! CSRF: the CSRF cookie holds a random per-browser value; the token every
//! form carries is an HMAC (under a key derived from the master key) of
//! that value and of the session cookie. A token is only accepted with
//! the very cookies it was made for, so an attacker who can plant a
//! cookie still cannot forge a token for someone else's session, and
//! signing in or out invalidates the forms rendered before.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

use crate::config::Config;
use crate::secret::{FormKey, generate_token};

const SESSION_COOKIE: &str = "latchkey_session";
const CSRF_COOKIE: &str = "latchkey_csrf";
/// Shortest CSRF cookie value accepted (a generated one is longer).
const MIN_CSRF_NONCE: usize = 32;

/// The value of cookie `name`, if the request carries it.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

fn is_https(config: &Config) -> bool {
    config.issuer.starts_with("https://")
}

/// A cookie's name: `__Host-` prefixed when the issuer is https.
fn name(config: &Config, base: &str) -> String {
    if is_https(config) {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// The name of the session cookie under this configuration.
pub fn session_cookie_name(config: &Config) -> String {
    name(config, SESSION_COOKIE)
}

/// The session cookie's value, if the request carries one.
pub fn session_value(config: &Config, headers: &HeaderMap) -> Option<String> {
    read(headers, &session_cookie_name(config))
}

fn build(config: &Config, base: &str, value: String, max_age: Option<i64>) -> Option<HeaderValue> {
    let mut cookie = Cookie::new(name(config, base), value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_path("/");
    cookie.set_secure(is_https(config));
    if let Some(seconds) = max_age {
        cookie.set_max_age(cookie::time::Duration::seconds(seconds));
    }
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// `Set-Cookie` for a new session.
pub fn session(config: &Config, value: &str) -> Option<HeaderValue> {
    build(config, SESSION_COOKIE, value.to_owned(), None)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session(config: &Config) -> Option<HeaderValue> {
    build(config, SESSION_COOKIE, String::new(), Some(0))
}

/// The cookie binding a delegated sign-in to this browser: its value is
/// the secret whose digest is stored with each login challenge.
const DELEGATE_COOKIE: &str = "latchkey_delegate";

/// The delegated sign-in cookie's value, if the request carries one.
pub fn delegate_browser_value(config: &Config, headers: &HeaderMap) -> Option<String> {
    read(headers, &name(config, DELEGATE_COOKIE))
}

/// `Set-Cookie` for the delegated sign-in cookie, living `max_age`
/// seconds. With an https issuer it is `SameSite=None` (and `Secure`), so
/// that the platform may send the person back with a cross-site POST;
/// with an http one (development) browsers refuse that, so it is `Lax`
/// and the platform sends them back with a GET.
pub fn delegate_browser(config: &Config, value: &str, max_age: i64) -> Option<HeaderValue> {
    let mut cookie = Cookie::new(name(config, DELEGATE_COOKIE), value.to_owned());
    cookie.set_http_only(true);
    cookie.set_same_site(if is_https(config) {
        SameSite::None
    } else {
        SameSite::Lax
    });
    cookie.set_path("/");
    cookie.set_secure(is_https(config));
    cookie.set_max_age(cookie::time::Duration::seconds(max_age));
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// The cookie binding a passkey ceremony (WebAuthn options sent, answer
/// awaited) to this browser: its value is the random id whose digest keys
/// the ceremony's stored state.
const PASSKEY_COOKIE: &str = "latchkey_passkey";

/// The passkey ceremony cookie's value, if the request carries one.
pub fn passkey_ceremony_value(config: &Config, headers: &HeaderMap) -> Option<String> {
    read(headers, &name(config, PASSKEY_COOKIE))
}

/// `Set-Cookie` for the passkey ceremony cookie, living `max_age` seconds.
pub fn passkey_ceremony(config: &Config, value: &str, max_age: i64) -> Option<HeaderValue> {
    build(config, PASSKEY_COOKIE, value.to_owned(), Some(max_age))
}

/// `Set-Cookie` that removes the passkey ceremony cookie.
pub fn clear_passkey_ceremony(config: &Config) -> Option<HeaderValue> {
    build(config, PASSKEY_COOKIE, String::new(), Some(0))
}

/// The cookie holding a sign-in whose second step is due (sealed: see
/// `accounts::pending_sign_in`).
const PENDING_COOKIE: &str = "latchkey_pending";

/// The pending sign-in cookie's value, if the request carries one.
pub fn pending_sign_in_value(config: &Config, headers: &HeaderMap) -> Option<String> {
    read(headers, &name(config, PENDING_COOKIE))
}

/// `Set-Cookie` for a pending sign-in living `max_age` seconds.
pub fn pending_sign_in(config: &Config, value: &str, max_age: i64) -> Option<HeaderValue> {
    build(config, PENDING_COOKIE, value.to_owned(), Some(max_age))
}

/// `Set-Cookie` that removes the pending sign-in cookie.
pub fn clear_pending_sign_in(config: &Config) -> Option<HeaderValue> {
    build(config, PENDING_COOKIE, String::new(), Some(0))
}

fn csrf_nonce(config: &Config, headers: &HeaderMap) -> Option<String> {
    read(headers, &name(config, CSRF_COOKIE)).filter(|v| v.len() >= MIN_CSRF_NONCE)
}

/// The token for this browser's forms, with the `Set-Cookie` to send when
/// the browser has no CSRF cookie yet.
pub fn csrf_token(key: &FormKey, config: &Config, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let (nonce, set) = match csrf_nonce(config, headers) {
        Some(nonce) => (nonce, None),
        None => {
            let nonce = generate_token("").expose().to_owned();
            let set = build(config, CSRF_COOKIE, nonce.clone(), None);
            (nonce, set)
        }
    };
    let session = session_value(config, headers).unwrap_or_default();
    (key.sign(&["csrf", &nonce, &session]), set)
}

/// Whether a submitted form's token was made for this browser's CSRF
/// cookie and session.
pub fn csrf_matches(key: &FormKey, config: &Config, headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (csrf_nonce(config, headers), submitted) {
        (Some(nonce), Some(token)) => {
            let session = session_value(config, headers).unwrap_or_default();
            key.verify(&["csrf", &nonce, &session], token)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::config::RawConfig;
    use crate::secret::MasterKey;

    fn config(issuer: &str) -> Config {
        let raw = RawConfig {
            issuer: Some(issuer.to_owned()),
            master_key: Some(crate::secret::Secret::new(MasterKey::generate().to_base64())),
            ..RawConfig::default()
        };
        raw.validate().unwrap()
    }

    fn with_cookies(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let text: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        headers.insert(header::COOKIE, HeaderValue::from_str(&text.join("; ")).unwrap());
        headers
    }

    #[test]
    fn https_cookies_are_host_prefixed_and_secure() {
        let https = config("https://id.example.com");
        let cookie = session(&https, "value").unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("__Host-latchkey_session=value"), "{cookie}");
        assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"));
        let key = FormKey::new(&MasterKey::generate());
        let (_, set) = csrf_token(&key, &https, &HeaderMap::new());
        assert!(
            set.unwrap()
                .to_str()
                .unwrap()
                .starts_with("__Host-latchkey_csrf=")
        );

        let http = config("http://localhost:3001");
        let cookie = session(&http, "value").unwrap();
        assert!(cookie.to_str().unwrap().starts_with("latchkey_session=value"));
        assert!(!cookie.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn tokens_match_only_their_own_cookie_and_session() {
        let config = config("http://localhost:3001");
        let key = FormKey::new(&MasterKey::generate());
        let nonce = "n".repeat(43);
        let headers = with_cookies(&[("latchkey_csrf", &nonce), ("latchkey_session", "ses_a")]);
        let (token, set) = csrf_token(&key, &config, &headers);
        assert!(set.is_none());
        assert!(csrf_matches(&key, &config, &headers, Some(&token)));
        assert!(
            !csrf_matches(&key, &config, &headers, Some(&nonce)),
            "double submit"
        );
        assert!(!csrf_matches(&key, &config, &headers, None));
        let other_session = with_cookies(&[("latchkey_csrf", &nonce), ("latchkey_session", "ses_b")]);
        assert!(!csrf_matches(&key, &config, &other_session, Some(&token)));
        let other_nonce = with_cookies(&[("latchkey_csrf", &"m".repeat(43)), ("latchkey_session", "ses_a")]);
        assert!(!csrf_matches(&key, &config, &other_nonce, Some(&token)));
        let other_key = FormKey::new(&MasterKey::generate());
        assert!(!csrf_matches(&other_key, &config, &headers, Some(&token)));
    }

    proptest::proptest! {
        #[test]
        fn a_cookie_header_gives_back_the_first_cookie_of_a_name(
            cookies in proptest::collection::vec(("[a-z_]{1,6}", "[A-Za-z0-9_-]{0,20}"), 0..5),
            name in "[a-z_]{1,6}",
        ) {
            let header: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let headers = match HeaderValue::from_str(&header.join("; ")) {
                Ok(value) => HeaderMap::from_iter([(header::COOKIE, value)]),
                Err(_) => HeaderMap::new(),
            };
            let expected = cookies.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
            proptest::prop_assert_eq!(read(&headers, &name), expected);
        }

        /// Whatever the cookies and the submitted value, only the token
        /// made for those very cookies passes.
        #[test]
        fn only_the_token_made_for_the_cookies_passes(
            header in "[ -~]{0,80}",
            submitted in proptest::option::of("[ -~]{0,60}"),
        ) {
            let config = config("http://localhost:3001");
            let key = FormKey::new(&MasterKey::generate());
            let headers = match HeaderValue::from_str(&header) {
                Ok(value) => HeaderMap::from_iter([(header::COOKIE, value)]),
                Err(_) => HeaderMap::new(),
            };
            let (token, _) = csrf_token(&key, &config, &headers);
            let has_nonce = csrf_nonce(&config, &headers).is_some();
            proptest::prop_assert_eq!(csrf_matches(&key, &config, &headers, Some(&token)), has_nonce);
            let expected = has_nonce && submitted.as_deref() == Some(token.as_str());
            proptest::prop_assert_eq!(csrf_matches(&key, &config, &headers, submitted.as_deref()), expected);
        }
    }
}
