//! The browser cookies: the session cookie (`HttpOnly`, `SameSite=Lax`,
//! `Secure` when the issuer is https) and the CSRF cookie whose value every
//! form repeats (double submit, compared in constant time).

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::secret::generate_token;

pub const SESSION_COOKIE: &str = "latchkey_session";
pub const CSRF_COOKIE: &str = "latchkey_csrf";

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

fn build(config: &Config, name: &str, value: String, max_age: Option<i64>) -> Option<HeaderValue> {
    let mut cookie = Cookie::new(name.to_owned(), value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_path("/");
    cookie.set_secure(config.issuer.starts_with("https://"));
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

/// The request's CSRF token, or a new one with the `Set-Cookie` to send.
pub fn csrf_token(config: &Config, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match read(headers, CSRF_COOKIE).filter(|v| v.len() >= 32) {
        Some(token) => (token, None),
        None => {
            let token = generate_token("").expose().to_owned();
            let set = build(config, CSRF_COOKIE, token.clone(), None);
            (token, set)
        }
    }
}

/// Whether a submitted form's token matches the CSRF cookie.
pub fn csrf_matches(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (read(headers, CSRF_COOKIE), submitted) {
        (Some(cookie), Some(form)) if cookie.len() >= 32 => cookie.as_bytes().ct_eq(form.as_bytes()).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn headers_with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::COOKIE, value);
        }
        headers
    }

    proptest! {
        #[test]
        fn a_cookie_header_gives_back_the_first_cookie_of_a_name(
            cookies in vec(("[a-z_]{1,6}", "[A-Za-z0-9_-]{0,20}"), 0..5),
            name in "[a-z_]{1,6}",
        ) {
            let header: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let headers = headers_with_cookie(&header.join("; "));
            let expected = cookies.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
            prop_assert_eq!(read(&headers, &name), expected);
        }

        #[test]
        fn any_cookie_header_is_read_without_failing(header in "[ -~]{0,80}", submitted in proptest::option::of("[ -~]{0,40}")) {
            let headers = headers_with_cookie(&header);
            let cookie = read(&headers, CSRF_COOKIE);
            let matches = csrf_matches(&headers, submitted.as_deref());
            // Only a cookie of 32 characters or more, repeated exactly, passes.
            prop_assert_eq!(
                matches,
                cookie.is_some_and(|c| c.len() >= 32 && Some(c.as_str()) == submitted.as_deref())
            );
        }

        #[test]
        fn the_csrf_token_matches_only_itself(token in "[A-Za-z0-9_-]{0,48}", submitted in "[A-Za-z0-9_-]{0,48}") {
            let headers = headers_with_cookie(&format!("{CSRF_COOKIE}={token}"));
            prop_assert!(!csrf_matches(&headers, None));
            prop_assert_eq!(csrf_matches(&headers, Some(&token)), token.len() >= 32);
            prop_assert_eq!(csrf_matches(&headers, Some(&submitted)), token.len() >= 32 && submitted == token);
        }
    }
}
