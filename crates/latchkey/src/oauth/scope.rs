//! Scope tokens and scope lists (RFC 6749 §3.3): parsing a space-delimited
//! list into a set, and checking it against the configured vocabulary.

use std::collections::BTreeSet;
use std::fmt;

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn is_valid_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// The OpenID Connect scopes: they concern the authorization server (ID
/// tokens, userinfo, refresh tokens), never a resource server, so they
/// belong to no configured resource and go with a request for any.
pub const OPENID_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Whether `scope` is one of [`OPENID_SCOPES`].
pub fn is_openid_scope(scope: &str) -> bool {
    OPENID_SCOPES.contains(&scope)
}

/// A set of scope tokens, kept in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

/// A scope list that is not well-formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid scope token")]
pub struct InvalidScopeToken(pub String);

impl ScopeSet {
    /// Parses a space-delimited list; repeated tokens collapse.
    pub fn parse(list: &str) -> Result<Self, InvalidScopeToken> {
        list.split(' ')
            .filter(|token| !token.is_empty())
            .map(|token| {
                if is_valid_scope_token(token) {
                    Ok(token.to_owned())
                } else {
                    Err(InvalidScopeToken(token.to_owned()))
                }
            })
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Builds a set from separate tokens, validating each.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, InvalidScopeToken>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        tokens
            .into_iter()
            .map(|token| {
                let token = token.as_ref();
                if is_valid_scope_token(token) {
                    Ok(token.to_owned())
                } else {
                    Err(InvalidScopeToken(token.to_owned()))
                }
            })
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens of `self` that `other` lacks.
    pub fn missing_from<'a>(&'a self, other: &'a ScopeSet) -> impl Iterator<Item = &'a str> {
        self.0.difference(&other.0).map(String::as_str)
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

impl fmt::Display for ScopeSet {
    /// The space-delimited form used on the wire and in storage.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// RFC 6749 §3.3's characters, read off the ASCII table: visible
    /// characters except `"` and `\`.
    fn in_scope_grammar(c: char) -> bool {
        c.is_ascii_graphic() && c != '"' && c != '\\'
    }

    proptest! {
        #[test]
        fn a_list_parses_exactly_when_every_character_is_in_the_grammar(
            list in prop_oneof![any::<String>(), "[ !-~\"\\\\\t\u{e9}]{0,30}"],
        ) {
            let well_formed = list.chars().all(|c| c == ' ' || in_scope_grammar(c));
            prop_assert_eq!(ScopeSet::parse(&list).is_ok(), well_formed);
        }

        #[test]
        fn lists_round_trip_through_their_wire_form(
            tokens in vec("[!#-\\[\\]-~]{1,10}", 0..6),
            separators in vec(" {1,3}", 6),
            repeat in any::<bool>(),
        ) {
            let mut list = String::new();
            let doubled = if repeat { [tokens.clone(), tokens.clone()].concat() } else { tokens.clone() };
            for (token, separator) in doubled.iter().zip(separators.iter().cycle()) {
                list.push_str(separator);
                list.push_str(token);
            }
            let set = ScopeSet::parse(&list);
            prop_assert!(set.is_ok(), "{list}");
            let set = set.unwrap_or_default();
            let mut expected = tokens.clone();
            expected.sort();
            expected.dedup();
            prop_assert_eq!(set.to_vec(), expected.clone());
            prop_assert_eq!(set.to_string(), expected.join(" "));
            prop_assert_eq!(ScopeSet::parse(&set.to_string()).ok(), Some(set.clone()));
            prop_assert_eq!(ScopeSet::from_tokens(&tokens).ok(), Some(set));
        }
    }

    #[test]
    fn parses_space_delimited_lists_and_collapses_repeats() {
        let set = ScopeSet::parse("openid  email openid").unwrap();
        assert_eq!(set.to_string(), "email openid");
    }

    #[test]
    fn refuses_characters_outside_the_scope_token_grammar() {
        assert_eq!(
            ScopeSet::parse("openid \"x\"").unwrap_err(),
            InvalidScopeToken("\"x\"".into())
        );
        assert!(ScopeSet::parse("a\\b").is_err());
        assert!(ScopeSet::parse("cases:read").is_ok());
    }

    #[test]
    fn subset_and_missing() {
        let wanted = ScopeSet::parse("openid cases:read").unwrap();
        let allowed = ScopeSet::parse("openid email").unwrap();
        assert!(!wanted.is_subset(&allowed));
        assert_eq!(wanted.missing_from(&allowed).collect::<Vec<_>>(), ["cases:read"]);
    }
}
