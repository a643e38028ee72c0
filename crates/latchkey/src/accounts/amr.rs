//! How a user authenticated: the authentication method references of
//! RFC 8176 (`amr`) that a browser session carries to the authorization
//! codes and grants it leads to, and from there to the ID token, with the
//! authentication context class (`acr`) they amount to.
//!
//! The classes, advertised in discovery as `acr_values_supported`:
//! - [`ACR_PHISHING_RESISTANT`] (`phr`, OpenID Connect EAP ACR Values 1.0):
//!   a passkey (`hwk` or `swk`) was used;
//! - [`ACR_TWO_FACTORS`]: two factors (`mfa`), none of them a passkey;
//! - [`ACR_ONE_FACTOR`]: one factor, such as a password alone.
//!
//! A session from before methods were recorded has none: its tokens carry
//! neither `amr` nor `acr`.

/// RFC 8176 §2: a password.
pub const PASSWORD: &str = "pwd";
/// A one-time password (TOTP, or a recovery code).
pub const ONE_TIME_PASSWORD: &str = "otp";
/// A key held in hardware (a security key or a platform authenticator
/// that attests it).
pub const HARDWARE_KEY: &str = "hwk";
/// A key held in software (a synced passkey).
pub const SOFTWARE_KEY: &str = "swk";
/// More than one factor.
pub const MULTIPLE_FACTORS: &str = "mfa";

/// Phishing-resistant authentication: a passkey was used.
pub const ACR_PHISHING_RESISTANT: &str = "phr";
/// Two factors, without a passkey.
pub const ACR_TWO_FACTORS: &str = "urn:latchkey:acr:2fa";
/// One factor.
pub const ACR_ONE_FACTOR: &str = "urn:latchkey:acr:1fa";

/// Every `acr` a token may carry, strongest first.
pub const ACR_VALUES: [&str; 3] = [ACR_PHISHING_RESISTANT, ACR_TWO_FACTORS, ACR_ONE_FACTOR];

/// The values RFC 8176 §2 registers; a platform's assertion may name only
/// these (anything else is dropped, so a token never says what nobody
/// defined).
const REGISTERED: [&str; 21] = [
    "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba", "retina",
    "sc", "sms", "swk", "tel", "user", "vbm", "wia",
];

/// The methods of a sign-in that used `methods`, in that order, each once,
/// with `mfa` added when they are two factors or more. `mfa` given
/// explicitly is kept.
pub fn of(methods: &[&str]) -> Vec<String> {
    let mut amr: Vec<String> = Vec::with_capacity(methods.len() + 1);
    for method in methods {
        if !amr.iter().any(|m| m == method) {
            amr.push((*method).to_owned());
        }
    }
    let factors = amr.iter().filter(|m| m.as_str() != MULTIPLE_FACTORS).count();
    if factors >= 2 && !amr.iter().any(|m| m == MULTIPLE_FACTORS) {
        amr.push(MULTIPLE_FACTORS.to_owned());
    }
    amr
}

/// The methods a platform's assertion names, kept only when RFC 8176
/// registers them, as [`of`] records them (`mfa` added for two or more).
pub fn registered(claimed: &[String]) -> Vec<String> {
    let known: Vec<&str> = claimed
        .iter()
        .map(String::as_str)
        .filter(|m| REGISTERED.contains(m))
        .collect();
    of(&known)
}

/// The class `amr` amounts to; `None` when no method is recorded.
pub fn acr(amr: &[String]) -> Option<&'static str> {
    let has = |value: &str| amr.iter().any(|m| m == value);
    if amr.is_empty() {
        None
    } else if is_phishing_resistant(amr) {
        Some(ACR_PHISHING_RESISTANT)
    } else if has(MULTIPLE_FACTORS) {
        Some(ACR_TWO_FACTORS)
    } else {
        Some(ACR_ONE_FACTOR)
    }
}

/// Whether `amr` has two factors or more.
pub fn is_multi_factor(amr: &[String]) -> bool {
    amr.iter().any(|m| m == MULTIPLE_FACTORS)
}

/// Whether `amr` includes a passkey (`hwk` or `swk`).
pub fn is_phishing_resistant(amr: &[String]) -> bool {
    amr.iter().any(|m| m == HARDWARE_KEY || m == SOFTWARE_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn a_password_alone_is_one_factor() {
        let amr = of(&[PASSWORD]);
        assert_eq!(amr, owned(&["pwd"]));
        assert_eq!(acr(&amr), Some(ACR_ONE_FACTOR));
        assert!(!is_multi_factor(&amr));
    }

    #[test]
    fn a_password_and_a_code_are_two_factors() {
        let amr = of(&[PASSWORD, ONE_TIME_PASSWORD]);
        assert_eq!(amr, owned(&["pwd", "otp", "mfa"]));
        assert_eq!(acr(&amr), Some(ACR_TWO_FACTORS));
        assert!(is_multi_factor(&amr));
    }

    #[test]
    fn a_passkey_is_phishing_resistant() {
        assert_eq!(
            acr(&of(&[HARDWARE_KEY, MULTIPLE_FACTORS])),
            Some(ACR_PHISHING_RESISTANT)
        );
        assert_eq!(acr(&of(&[PASSWORD, SOFTWARE_KEY])), Some(ACR_PHISHING_RESISTANT));
        assert_eq!(of(&[PASSWORD, SOFTWARE_KEY]), owned(&["pwd", "swk", "mfa"]));
    }

    #[test]
    fn repeated_methods_count_once() {
        assert_eq!(of(&[PASSWORD, PASSWORD]), owned(&["pwd"]));
        assert_eq!(
            of(&[PASSWORD, MULTIPLE_FACTORS, ONE_TIME_PASSWORD]),
            owned(&["pwd", "mfa", "otp"])
        );
    }

    #[test]
    fn nothing_recorded_has_no_class() {
        assert_eq!(acr(&[]), None);
    }

    #[test]
    fn only_registered_methods_are_taken_from_a_platform() {
        let claimed = owned(&["pwd", "<script>", "otp", "pwd", "mfa", "custom"]);
        assert_eq!(registered(&claimed), owned(&["pwd", "otp", "mfa"]));
        assert_eq!(registered(&owned(&["otp", "pwd"])), owned(&["otp", "pwd", "mfa"]));
        assert_eq!(registered(&owned(&["custom"])), Vec::<String>::new());
    }
}
