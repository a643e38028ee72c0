//! The one integration-test binary. Every test that touches storage runs
//! against SQLite and PostgreSQL (`PG_TEST_URL` names the server; the
//! `scripts/test` command starts a throwaway one).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod smtp_sink;
mod user_agent;

mod admin_accounts;
mod admin_clients;
mod admin_hostile_input;
mod api_keys_pages;
mod authorization;
mod body_limits;
mod browser;
mod change_password_pages;
mod cli;
mod client_credentials;
mod client_id_metadata;
mod connections;
mod delegated_sign_in;
mod demo_callback;
mod discovery;
mod email_verification;
mod failing_storage;
mod fuzz;
mod health;
mod hostile_load;
mod import_users;
mod lifecycle;
mod metrics;
mod oauth_apps_pages;
mod pages;
mod passkeys;
mod password_reset;
mod protected_api;
mod rate_limits;
mod refresh_grace;
mod registration;
mod relying_party;
mod resources;
mod scope_approval;
mod second_factor;
mod secrets_in_logs;
mod seed_integrations;
mod sessions_pages;
mod store_contract;
mod token_endpoint;
mod token_shapes;
