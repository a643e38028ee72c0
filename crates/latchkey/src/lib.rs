//! Latchkey: an OAuth 2.0 / OpenID Connect provider in one binary.
//!
//! The crate is organized by responsibility (see `docs/ARCHITECTURE.md`):
//! protocol rules in [`oauth`], identities in [`accounts`], client
//! registration in [`clients`], signing keys in [`keys`], storage in
//! [`store`], counters and their Prometheus text in [`metrics`], and
//! everything HTTP in [`http`]. [`app::App`] wires them into
//! a server; [`cli`] is the command line.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clients;
pub mod config;
pub mod dashboard;
pub mod delegate;
pub mod demo;
pub mod grants;
pub mod http;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod outbound;
pub mod resources;
pub mod secret;
pub mod store;

/// The current time in Unix seconds: the one clock domain functions are
/// handed (they take `now` as an argument so tests control time).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
