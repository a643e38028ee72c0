//! Grants: what a user allowed a client to do, and everything that follows
//! from it — the authorization endpoint's sign-in, organization and
//! consent decisions ([`flow`]), remembered consent ([`consent`]),
//! authorization codes ([`codes`]), the tokens minted and checked
//! ([`tokens`]), the token endpoint's grant types ([`exchange`]), and the
//! grant with no user, a client acting for its organization
//! ([`client_credentials`]).

pub mod authority;
pub mod client_credentials;
pub mod codes;
pub mod connected;
pub mod consent;
pub mod exchange;
pub mod flow;
pub mod revocation;
pub mod tokens;
