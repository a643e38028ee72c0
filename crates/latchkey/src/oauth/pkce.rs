//! PKCE (RFC 7636): challenge methods, the verifier grammar, and the check
//! at the token endpoint.

use subtle::ConstantTimeEq;

use crate::secret::pkce_s256_challenge;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMethod {
    S256,
    Plain,
}

impl ChallengeMethod {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "S256" => Some(Self::S256),
            "plain" => Some(Self::Plain),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }
}

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`, and the same grammar
/// for a challenge (§4.2).
pub fn is_valid_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6: the server recomputes the challenge from the verifier.
pub fn verify(method: ChallengeMethod, challenge: &str, verifier: &str) -> bool {
    let computed = match method {
        ChallengeMethod::S256 => pkce_s256_challenge(verifier),
        ChallengeMethod::Plain => verifier.to_owned(),
    };
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 7636 §4.1's `unreserved`, read off the RFC.
    const UNRESERVED: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

    fn verifier() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._~-]{43,128}"
    }

    proptest! {
        #[test]
        fn a_verifier_is_43_to_128_unreserved_characters(
            value in prop_oneof![any::<String>(), "[A-Za-z0-9._~+/= %-]{38,133}", "[A-Za-z0-9._~-]{40,131}"],
        ) {
            let expected = (43..=128).contains(&value.len()) && value.chars().all(|c| UNRESERVED.contains(c));
            prop_assert_eq!(is_valid_verifier(&value), expected);
        }

        #[test]
        fn s256_verifies_its_own_verifier_and_no_other(verifier in verifier(), other in verifier()) {
            let challenge = pkce_s256_challenge(&verifier);
            prop_assert!(is_valid_verifier(&challenge), "a challenge obeys the verifier grammar too");
            prop_assert!(verify(ChallengeMethod::S256, &challenge, &verifier));
            prop_assert_eq!(verify(ChallengeMethod::S256, &challenge, &other), other == verifier);
            prop_assert!(!verify(ChallengeMethod::Plain, &challenge, &verifier), "plain is not S256");
            prop_assert!(verify(ChallengeMethod::Plain, &verifier, &verifier));
            prop_assert_eq!(verify(ChallengeMethod::Plain, &verifier, &other), other == verifier);
        }

        #[test]
        fn verification_takes_any_text(challenge in any::<String>(), verifier in any::<String>()) {
            // Anything that verifies under S256 has the challenge's length.
            if verify(ChallengeMethod::S256, &challenge, &verifier) {
                prop_assert_eq!(challenge.len(), 43);
            }
        }

        #[test]
        fn only_the_two_method_names_parse(text in prop_oneof![any::<String>(), "(S256|plain|s256|PLAIN)"]) {
            match ChallengeMethod::parse(&text) {
                Some(method) => prop_assert_eq!(method.as_str(), text.as_str()),
                None => prop_assert!(text != "S256" && text != "plain"),
            }
        }
    }

    #[test]
    fn s256_matches_the_rfc_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify(ChallengeMethod::S256, challenge, verifier));
        assert!(!verify(ChallengeMethod::S256, challenge, "x".repeat(43).as_str()));
        assert!(verify(ChallengeMethod::Plain, verifier, verifier));
    }

    #[test]
    fn verifier_grammar() {
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
    }
}
