//! Redirect URI registration rules (SPEC 5, RFC 9700 §4.1): absolute,
//! `https`, or `http` only on a loopback host; no fragment (RFC 6749
//! §3.1.2); no wildcards. URIs are kept exactly as registered, because the
//! authorization endpoint compares them character for character — except,
//! for self-registered clients, the port of a loopback redirect URI
//! (RFC 8252 §7.3, [`matches`]). Self-registered native apps may also use
//! the private-use schemes the configuration allows (RFC 8252 §7.1,
//! [`validate_for_registration`]).

use url::{Host, Url};

/// Why a redirect URI cannot be registered; the message names the URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("redirect URI `{uri}` {problem}")]
pub struct InvalidRedirectUri {
    pub uri: String,
    pub problem: &'static str,
}

const MAX_LENGTH: usize = 2000;

/// Schemes that are never a private-use redirect scheme, whatever the
/// configuration allows: the web's own, and those that run or read
/// something in the browser.
pub const NEVER_PRIVATE_USE: [&str; 8] = [
    "http",
    "https",
    "javascript",
    "data",
    "file",
    "vbscript",
    "about",
    "blob",
];

/// Checks one redirect URI against the registration rules.
pub fn validate(uri: &str) -> Result<(), InvalidRedirectUri> {
    well_formed(uri)?;
    validate_web(uri)
}

fn refuse(uri: &str, problem: &'static str) -> InvalidRedirectUri {
    InvalidRedirectUri {
        uri: uri.to_owned(),
        problem,
    }
}

/// The rules every redirect URI keeps, whatever its scheme.
fn well_formed(uri: &str) -> Result<(), InvalidRedirectUri> {
    let problem = if uri.len() > MAX_LENGTH {
        "is longer than 2000 characters"
    } else if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "must not contain spaces or control characters"
    } else if uri.contains('#') {
        // RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
        "must not contain a fragment (#)"
    } else if uri.contains('*') {
        // RFC 9700 §4.1.3: exact string matching, so no patterns.
        "must not contain wildcards (*); register every URI exactly"
    } else {
        return Ok(());
    };
    Err(refuse(uri, problem))
}

const HTTPS_ONLY: &str = "must use https (http is allowed only for localhost, 127.0.0.1 and [::1])";

/// Checks a redirect URI a client registers for itself (RFC 7591): the
/// rules of [`validate`], or a private-use scheme (RFC 8252 §7.1, such as
/// `com.example.app:/callback` or `cursor://…`) that `allows_scheme`
/// accepts.
pub fn validate_for_registration(
    uri: &str,
    allows_scheme: impl Fn(&str) -> bool,
) -> Result<(), InvalidRedirectUri> {
    well_formed(uri)?;
    let url = Url::parse(uri).map_err(|_| refuse(uri, "is not an absolute URL"))?;
    let scheme = url.scheme();
    if matches!(scheme, "http" | "https") {
        return validate_web(uri);
    }
    if NEVER_PRIVATE_USE.contains(&scheme) {
        return Err(refuse(uri, HTTPS_ONLY));
    }
    if !allows_scheme(scheme) {
        return Err(refuse(
            uri,
            "uses a private-use URI scheme this server does not allow; use https or a loopback http URI",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(uri, "must not contain user credentials"));
    }
    Ok(())
}

/// RFC 8252 §7.3: whether a requested redirect URI matches a registered
/// one — exactly, or, when `any_loopback_port`, for an `http` loopback URI
/// (`127.0.0.1`, `[::1]`, `localhost`), exactly apart from the port, which
/// a native app picks when it starts listening.
pub fn matches(registered: &str, requested: &str, any_loopback_port: bool) -> bool {
    if registered == requested {
        return true;
    }
    if !any_loopback_port || Url::parse(requested).is_err() {
        return false;
    }
    match (
        without_loopback_port(registered),
        without_loopback_port(requested),
    ) {
        (Some(registered), Some(requested)) => registered == requested,
        _ => false,
    }
}

/// An `http` loopback URI with its port taken out, character for character
/// otherwise; `None` for any other URI.
fn without_loopback_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let host_end = if rest.starts_with('[') {
        rest.find(']')? + 1
    } else {
        rest.find([':', '/', '?', '#']).unwrap_or(rest.len())
    };
    let (host, after) = rest.split_at(host_end);
    if !matches!(host, "127.0.0.1" | "[::1]" | "localhost") {
        return None;
    }
    let after = match after.strip_prefix(':') {
        Some(port_and_rest) => {
            let digits = port_and_rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(port_and_rest.len());
            if digits == 0 || digits > 5 {
                return None;
            }
            &port_and_rest[digits..]
        }
        None => after,
    };
    Some(format!("http://{host}{after}"))
}

/// The rules of `https` and loopback `http` redirect URIs.
fn validate_web(uri: &str) -> Result<(), InvalidRedirectUri> {
    let fail = |problem| Err(refuse(uri, problem));
    let Ok(url) = Url::parse(uri) else {
        return fail("is not an absolute URL");
    };
    if !matches!(url.scheme(), "https" | "http") {
        return fail(HTTPS_ONLY);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return fail("must not contain user credentials");
    }
    let loopback = match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback() && ip.octets() == [127, 0, 0, 1],
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => return fail("has no host"),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => fail(HTTPS_ONLY),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Strings that look like URLs, with the characters the rules are about.
    fn url_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "(https?|ftp|javascript|HTTPS?)://[a-zA-Z0-9.:@\\[\\]*#/?%&= \t-]{0,40}",
            "https?://(localhost|127\\.0\\.0\\.1|\\[::1\\]|127\\.0\\.0\\.2|example\\.com)(:[0-9]{1,5})?(/[a-z#*]{0,5}){0,3}",
        ]
    }

    fn https_uri() -> impl Strategy<Value = String> {
        (
            "[a-z][a-z0-9]{0,15}(\\.[a-z][a-z0-9]{0,8}){0,2}\\.[a-z]{2,8}",
            "(:[1-9][0-9]{0,3})?",
            "(/[A-Za-z0-9._~-]{0,10}){0,4}",
            "(\\?[a-z]{1,5}=[a-z0-9]{0,5})?",
        )
            .prop_map(|(host, port, path, query)| format!("https://{host}{port}{path}{query}"))
    }

    proptest! {
        #[test]
        fn an_accepted_uri_keeps_every_rule(uri in url_like()) {
            if validate(&uri).is_ok() {
                prop_assert!(uri.len() <= MAX_LENGTH);
                prop_assert!(!uri.chars().any(|c| c.is_whitespace() || c.is_control()));
                prop_assert!(!uri.contains(['#', '*']));
                let Ok(url) = Url::parse(&uri) else {
                    return Err(TestCaseError::fail(format!("{uri} is not a URL")));
                };
                prop_assert!(url.username().is_empty() && url.password().is_none());
                let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                prop_assert!(url.scheme() == "https" || (url.scheme() == "http" && loopback), "{uri}");
            }
        }

        #[test]
        fn https_uris_are_accepted_and_their_broken_forms_refused(uri in https_uri(), suffix in "[a-z]{0,5}") {
            prop_assert_eq!(validate(&uri), Ok(()));
            prop_assert!(validate(&format!("{uri}#{suffix}")).is_err(), "a fragment");
            prop_assert!(validate(&format!("{uri}*")).is_err(), "a wildcard");
            prop_assert!(validate(&format!("{uri} ")).is_err(), "a space");
            prop_assert!(validate(&uri.replacen("https://", "http://", 1)).is_err(), "plain http");
            prop_assert!(validate(&uri.replacen("https://", "https://user:pw@", 1)).is_err(), "credentials");
            prop_assert!(validate(&uri.replacen("https://", "", 1)).is_err(), "not absolute");
        }

        #[test]
        fn http_is_accepted_on_loopback_hosts(
            host in prop_oneof![Just("localhost"), Just("127.0.0.1"), Just("[::1]")],
            port in "(:[1-9][0-9]{0,3})?",
            path in "(/[A-Za-z0-9._~-]{0,10}){0,3}",
        ) {
            prop_assert_eq!(validate(&format!("http://{host}{port}{path}")), Ok(()));
        }
    }

    #[test]
    fn accepts_https_and_loopback_http() {
        for uri in [
            "https://yourapp.com/oauth/callback",
            "https://YOUR-ORG.my.salesforce.com/apex/CXOAuthCallback",
            "http://localhost:3000/oauth/callback",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "https://app.example/cb?tenant=1",
        ] {
            assert_eq!(validate(uri), Ok(()), "{uri}");
        }
    }

    #[test]
    fn loopback_ports_match_only_when_asked_and_nothing_else_differs() {
        let registered = "http://127.0.0.1:49152/callback";
        assert!(matches(registered, registered, false));
        assert!(!matches(registered, "http://127.0.0.1:5000/callback", false));
        for requested in [
            "http://127.0.0.1:5000/callback",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:65535/callback",
        ] {
            assert!(matches(registered, requested, true), "{requested}");
        }
        for requested in [
            "http://127.0.0.1:5000/callback/",
            "http://127.0.0.1:5000/callback?x=1",
            "http://127.0.0.1:5000@evil.example/callback",
            "http://127.0.0.2:5000/callback",
            "http://localhost:5000/callback",
            "https://127.0.0.1:5000/callback",
            "http://127.0.0.1:99999/callback",
            "http://127.0.0.1:/callback",
        ] {
            assert!(!matches(registered, requested, true), "{requested}");
        }
        assert!(matches("http://[::1]/cb", "http://[::1]:8080/cb", true));
        assert!(matches(
            "http://localhost:1/cb?a=b",
            "http://localhost:2/cb?a=b",
            true
        ));
        assert!(!matches(
            "https://app.example:8443/cb",
            "https://app.example:9443/cb",
            true
        ));
    }

    #[test]
    fn registration_allows_private_use_schemes_only_when_configured() {
        let cursor = |scheme: &str| scheme == "cursor" || scheme == "com.example.app";
        for uri in [
            "cursor://anysphere.cursor-retrieval/oauth/callback",
            "com.example.app:/oauth2redirect",
            "https://app.example/cb",
            "http://localhost:3000/cb",
        ] {
            assert_eq!(validate_for_registration(uri, cursor), Ok(()), "{uri}");
        }
        for (uri, problem) in [
            ("vscode://vscode.github-authentication/cb", "private-use"),
            ("cursor://x/cb#frag", "fragment"),
            ("cursor://user:pw@x/cb", "credentials"),
            ("javascript:alert(1)", "must use https"),
            ("data:text/html,hi", "must use https"),
            ("http://app.example/cb", "must use https"),
            ("not a uri", "spaces"),
        ] {
            let error = validate_for_registration(uri, cursor).unwrap_err();
            assert!(error.to_string().contains(problem), "{uri}: {error}");
        }
        // Whatever the configuration allows, never these.
        for uri in ["javascript:alert(1)", "data:text/html,hi", "file:///etc/passwd"] {
            assert!(validate_for_registration(uri, |_| true).is_err(), "{uri}");
        }
    }

    #[test]
    fn refuses_each_broken_rule_naming_the_uri() {
        let cases = [
            ("http://yourapp.com/cb", "must use https"),
            ("https://yourapp.com/cb#frag", "fragment"),
            ("https://*.yourapp.com/cb", "wildcards"),
            ("/relative/cb", "absolute"),
            ("yourapp.com/cb", "absolute"),
            ("javascript:alert(1)", "must use https"),
            ("ftp://localhost/cb", "must use https"),
            ("https://user:pw@yourapp.com/cb", "credentials"),
            (" https://yourapp.com/cb", "spaces"),
            ("http://localhost.evil.com/cb", "must use https"),
        ];
        for (uri, problem) in cases {
            let error = validate(uri).unwrap_err();
            assert!(error.to_string().contains(problem), "{uri}: {error}");
            assert!(error.to_string().contains(uri), "{uri}: {error}");
        }
    }
}
