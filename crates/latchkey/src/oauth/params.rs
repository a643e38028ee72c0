//! Request parameters as name/value pairs (RFC 6749 §3.1, §3.2): an empty
//! value counts as absent, and a parameter must not appear twice — except
//! the ones defined to repeat ([`REPEATABLE`]).

use super::error::OAuthError;

/// Parameters that may appear more than once: `resource` (RFC 8707 §2).
pub const REPEATABLE: [&str; 1] = [super::resource::PARAMETER];

/// Refuses a request in which a non-empty parameter appears twice, unless
/// it is one of [`REPEATABLE`].
pub fn reject_repeated(pairs: &[(String, String)]) -> Result<(), OAuthError> {
    let mut seen: Vec<&str> = Vec::with_capacity(pairs.len());
    for (name, _) in pairs
        .iter()
        .filter(|(n, v)| !v.is_empty() && !REPEATABLE.contains(&n.as_str()))
    {
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

/// Every non-empty value of `name`, in order (for [`REPEATABLE`] ones).
pub fn all<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(n, v)| n == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Owned pairs from borrowed ones, for tests that build requests.
#[cfg(test)]
pub fn owned(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Few names and short values, so repeats and empty values are common.
    fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        vec(("[abc]{0,2}", "[xy]{0,1}"), 0..8)
    }

    proptest! {
        #[test]
        fn only_a_repeated_non_empty_parameter_is_refused(pairs in pairs()) {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for (name, value) in &pairs {
                if !value.is_empty() {
                    *counts.entry(name).or_default() += 1;
                }
            }
            let repeated = counts.values().any(|count| *count > 1);
            prop_assert_eq!(reject_repeated(&pairs).is_err(), repeated);
        }

        #[test]
        fn get_finds_a_non_empty_value_of_the_name(pairs in pairs(), name in "[abc]{0,2}") {
            let values: Vec<&str> = pairs
                .iter()
                .filter(|(n, v)| *n == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
                .collect();
            match get(&pairs, &name) {
                // The first one; once repeats are refused, the only one.
                Some(value) => prop_assert_eq!(Some(&value), values.first()),
                None => prop_assert!(values.is_empty()),
            }
        }
    }
}
