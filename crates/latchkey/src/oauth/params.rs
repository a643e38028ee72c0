//! Request parameters as name/value pairs (RFC 6749 §3.1, §3.2): an empty
//! value counts as absent, and a parameter must not appear twice.

use super::error::OAuthError;

/// Refuses a request in which a non-empty parameter appears twice.
pub fn reject_repeated(pairs: &[(String, String)]) -> Result<(), OAuthError> {
    let mut seen: Vec<&str> = Vec::with_capacity(pairs.len());
    for (name, _) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        if seen.contains(&name.as_str()) {
            return Err(OAuthError::invalid_request(format!(
                "the parameter {name} is given more than once"
            )));
        }
        seen.push(name);
    }
    Ok(())
}

/// The value of `name`, if present and not empty.
pub fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, v)| n == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}
