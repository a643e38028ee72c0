//! Where a browser may be sent back to after signing in: the one
//! same-origin check every such redirect goes through (no open redirect,
//! RFC 9700 §4.11). The target must be a path on this server. It is
//! refused when it holds anything a browser strips or reinterprets before
//! resolving (control characters, spaces, backslashes, also when
//! percent-encoded); then it is resolved against the issuer as a URL and
//! must keep the issuer's origin; what is sent is the resolved URL's own
//! serialization, so the browser follows exactly what was checked.

use percent_encoding::percent_decode_str;
use url::Url;

/// Longest target kept; longer ones fall back to the home page.
const MAX_LENGTH: usize = 2048;

/// The same-origin path (with its query) `target` names, or `None` when it
/// could lead anywhere else.
pub fn same_origin_path(issuer: &str, target: &str) -> Option<String> {
    if target.len() > MAX_LENGTH || !target.starts_with('/') {
        return None;
    }
    let decoded = percent_decode_str(target).decode_utf8_lossy();
    for text in [target, decoded.as_ref()] {
        let unsafe_char = |c: char| c.is_control() || c.is_whitespace() || c == '\\';
        if text.chars().any(unsafe_char) || text.starts_with("//") {
            return None;
        }
    }
    let base = Url::parse(issuer).ok()?;
    let resolved = base.join(target).ok()?;
    if resolved.origin() != base.origin() || !resolved.username().is_empty() || resolved.password().is_some()
    {
        return None;
    }
    let path = resolved.path();
    if path.starts_with("//") || path.contains('\\') {
        return None;
    }
    Some(match resolved.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    })
}

/// `target` when it is a same-origin path, otherwise the home page.
pub fn or_home(issuer: &str, target: Option<&str>) -> String {
    target
        .and_then(|t| same_origin_path(issuer, t))
        .unwrap_or_else(|| "/".to_owned())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ISSUER: &str = "https://id.example.com";

    #[test]
    fn local_paths_are_kept() {
        for target in [
            "/",
            "/settings/connected-apps",
            "/api/oauth/authorize?client_id=c&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
            "/a/b/../c",
        ] {
            assert!(same_origin_path(ISSUER, target).is_some(), "{target}");
        }
        assert_eq!(same_origin_path(ISSUER, "/a/b/../c").as_deref(), Some("/a/c"));
    }

    #[test]
    fn other_origins_and_browser_quirks_are_refused() {
        for target in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "\\/evil.example/",
            "/\t/evil.example/",
            "/%09/evil.example/",
            "/\n/evil.example/",
            "/%0a/evil.example/",
            "/\r\n/evil.example/",
            "/ /evil.example/",
            "/%2F/evil.example/",
            "/%2f%2fevil.example/",
            "/%5C/evil.example/",
            "/%5c%5cevil.example",
            "/\u{0}/evil.example/",
            "/%00/evil.example",
            "/\u{7f}/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/\u{3000}/evil.example",
            "/\u{2028}/evil.example",
        ] {
            assert_eq!(same_origin_path(ISSUER, target), None, "{target:?}");
        }
    }

    #[test]
    fn or_home_falls_back_to_the_home_page() {
        assert_eq!(or_home(ISSUER, None), "/");
        assert_eq!(or_home(ISSUER, Some("//evil.example")), "/");
        assert_eq!(or_home(ISSUER, Some("/settings")), "/settings");
    }

    proptest! {
        /// Whatever the input, an accepted target resolves to the issuer's
        /// origin, and what is sent resolves to itself.
        #[test]
        fn accepted_targets_stay_on_the_origin(target in "\\PC{0,40}|/[ -~\t\n\\\\%]{0,40}") {
            if let Some(path) = same_origin_path(ISSUER, &target) {
                let base = Url::parse(ISSUER).unwrap();
                let followed = base.join(&path).unwrap();
                prop_assert_eq!(followed.origin(), base.origin());
                prop_assert!(path.starts_with('/') && !path.starts_with("//"));
                prop_assert!(!path.chars().any(|c| c.is_control() || c == '\\'));
                prop_assert_eq!(same_origin_path(ISSUER, &path), Some(path.clone()));
            }
        }

        /// A host placed after any run of slashes, backslashes, controls
        /// and their encodings never becomes the destination.
        #[test]
        fn smuggled_hosts_are_refused(
            prefix in proptest::collection::vec(
                prop_oneof![
                    Just("/"), Just("\\"), Just("%2f"), Just("%2F"), Just("%5c"), Just("\t"),
                    Just("%09"), Just("\n"), Just("%0d"), Just("\r"), Just(" "), Just("%20"), Just("%00"),
                ],
                1..6,
            ),
        ) {
            let target = format!("/{}evil.example/x", prefix.concat());
            if let Some(path) = same_origin_path(ISSUER, &target) {
                let followed = Url::parse(ISSUER).unwrap().join(&path).unwrap();
                prop_assert_eq!(followed.host_str(), Some("id.example.com"));
            }
        }
    }
}
