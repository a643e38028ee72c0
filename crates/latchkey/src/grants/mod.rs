//! Grants: what a user allowed a client to do, and everything that follows
//! from it — remembered consent ([`consent`]), authorization codes
//! ([`codes`]), the tokens minted and checked ([`tokens`]), and the token
//! endpoint's grant types ([`exchange`]).

pub mod authority;
pub mod codes;
pub mod connected;
pub mod consent;
pub mod exchange;
pub mod revocation;
pub mod tokens;
