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
    use super::*;

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
