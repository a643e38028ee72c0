//! The command line: `serve` (optionally `--demo`), `migrate`, and the
//! operator's management commands for clients, users, organizations,
//! memberships, signing keys and admin API keys. Management commands work on
//! the configured database directly, through the same domain functions as
//! the admin API. Secrets are read from stdin or a prompt, never from argv.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::{self, App};
use crate::config::Config;
use crate::{demo, unix_now};

mod import;
mod manage;

use manage::{
    run_admin_keys, run_api_keys, run_clients, run_initial_access_tokens, run_keys, run_orgs, run_users,
};

#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about = "OAuth 2.0 / OpenID Connect provider")]
pub struct Cli {
    /// TOML configuration file; LATCHKEY_* environment variables override it.
    #[arg(long, global = true, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Seed demo organizations, user and app, and print their credentials.
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// OAuth clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Organizations and their members.
    #[command(subcommand, name = "orgs", alias = "organizations")]
    Orgs(OrgsCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// API keys of an organization, for server-to-server calls to the API.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(ApiKeysCommand),
    /// Admin API keys stored in the database (besides `admin_api_keys` in
    /// configuration).
    #[command(subcommand, name = "admin-keys")]
    AdminKeys(AdminKeysCommand),
    /// Initial access tokens for dynamic client registration (when
    /// `oauth.dynamic_client_registration` is `initial_access_token`).
    #[command(subcommand, name = "initial-access-tokens")]
    InitialAccessTokens(InitialAccessTokensCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientsCommand {
    /// Register a client and print its id and secret (shown once).
    Create(CreateClientArgs),
    /// List clients.
    List,
    /// Show one client as JSON.
    Show { client_id: String },
    /// Change a client's name, description, redirect URIs, scopes, grant
    /// types or owning organization.
    Update {
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Replaces every redirect URI (repeat the flag).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Replaces the allowed scopes (repeat the flag or space-separate).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// The algorithm of the client's ID tokens: RS256, ES256 or EdDSA;
        /// `default` goes back to `tokens.signing_alg`.
        #[arg(long)]
        id_token_alg: Option<String>,
        /// Replaces the grant types (repeat the flag or space-separate).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// The owning organization; `none` leaves the client without one.
        #[arg(long)]
        organization_id: Option<String>,
    },
    /// Issue a new secret; the old one stops working at once.
    RotateSecret { client_id: String },
    /// Refuse new authorizations and stop the client's tokens.
    Disable { client_id: String },
    /// Allow new authorizations again.
    Enable { client_id: String },
    /// Delete a client with its grants and tokens.
    Delete { client_id: String },
    /// List the sensitive scopes awaiting approval (apps made in the
    /// dashboard asked for them).
    Approvals {
        /// `pending` or `denied`.
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// Approve a pending scope: the client may ask for it from now on.
    Approve { client_id: String, scope: String },
    /// Deny a pending scope; the reason is shown to the app's admins.
    Deny {
        client_id: String,
        scope: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateClientArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    description: Option<String>,
    /// Repeat for several; none only for a client without
    /// authorization_code (a machine client).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Repeat the flag or space-separate the scopes.
    #[arg(long = "scope", required = true)]
    scopes: Vec<String>,
    #[arg(long)]
    homepage_url: Option<String>,
    #[arg(long)]
    logo_url: Option<String>,
    /// client_secret_basic (default), client_secret_post, or none (public client).
    #[arg(long)]
    auth_method: Option<String>,
    /// The owning organization; required with client_credentials, whose
    /// tokens act for it.
    #[arg(long)]
    organization_id: Option<String>,
    /// Grant types the client may use: authorization_code, refresh_token,
    /// client_credentials (repeat the flag or space-separate); without it,
    /// authorization_code and refresh_token.
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// The algorithm of the client's ID tokens (OpenID Connect Dynamic
    /// Registration's id_token_signed_response_alg): RS256, ES256 or EdDSA;
    /// without it, `tokens.signing_alg`.
    #[arg(long)]
    id_token_alg: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Create a user; the password is read from stdin (or prompted).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email_verified: bool,
    },
    List,
    Show {
        user_id: String,
    },
    Delete {
        user_id: String,
    },
    /// Remove a user's authenticator app, recovery codes and passkeys (a
    /// lost phone): the next sign-in is with the password alone.
    ResetSecondFactors {
        user_id: String,
    },
    /// Import users from a JSON Lines file (`-` for stdin), one user per
    /// line: {"email", "name", "emailVerified", "passwordHash",
    /// "organizations": [{"name" or "id", "role"}]}. Each line is reported;
    /// a bad line is skipped, an existing email left as it is.
    Import {
        /// The JSON Lines file, or `-` for stdin.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OrgsCommand {
    Create {
        #[arg(long)]
        name: String,
        /// Members must use a second factor (two-step verification).
        #[arg(long)]
        require_second_factor: bool,
    },
    /// Change an organization's settings.
    Update {
        organization_id: String,
        /// Members must use a second factor (two-step verification).
        #[arg(
            long,
            conflicts_with = "no_require_second_factor",
            required_unless_present = "no_require_second_factor"
        )]
        require_second_factor: bool,
        /// Members need not use a second factor.
        #[arg(long)]
        no_require_second_factor: bool,
    },
    List,
    Show {
        organization_id: String,
    },
    Delete {
        organization_id: String,
    },
    /// Add a member, or change a member's role.
    AddMember {
        organization_id: String,
        #[arg(long)]
        user_id: String,
        #[arg(long)]
        role: String,
    },
    RemoveMember {
        organization_id: String,
        #[arg(long)]
        user_id: String,
    },
    Members {
        organization_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Every key with its state.
    List,
    /// Add a new key: published now, signing after `signing.rotation_lead_seconds`.
    Rotate {
        /// Start signing with the new key at once.
        #[arg(long)]
        now: bool,
        /// The algorithm to rotate (RS256, ES256 or EdDSA); without it,
        /// every algorithm that has keys.
        #[arg(long)]
        alg: Option<String>,
    },
    /// Stop publishing a key that no longer signs.
    Retire {
        /// The key's id (base64url: it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Retire even though tokens it signed may not have expired yet.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeysCommand {
    /// Create a key and print it (shown once).
    Create {
        #[arg(long = "org")]
        organization_id: String,
        #[arg(long)]
        name: String,
        /// Repeat the flag or space-separate the scopes.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List an organization's keys with their last use.
    List {
        #[arg(long = "org")]
        organization_id: String,
    },
    /// Revoke a key; it stops working at once.
    Revoke {
        #[arg(long = "org")]
        organization_id: String,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminKeysCommand {
    /// Create an admin API key and print it (shown once).
    Create {
        #[arg(long)]
        name: String,
    },
    List,
    Revoke {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum InitialAccessTokensCommand {
    /// Issue a token and print it (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Seconds until it expires; without it, it never expires.
        #[arg(long = "expires-in", value_name = "SECONDS")]
        expires_in: Option<i64>,
        /// How many clients it may register; without it, any number.
        #[arg(long = "max-uses")]
        max_uses: Option<i64>,
    },
    /// List the tokens with their uses.
    List,
    /// Revoke a token; registrations presenting it are refused at once.
    Revoke { id: String },
}

/// Threads of the async runtime's blocking pool (name lookups, stdin,
/// SQLite writes that wait for the write lock, WAL checkpoints).
const MAX_BLOCKING_THREADS: usize = 8;

/// Runs the command line; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // One worker per core (tokio's default). Little blocks in the
    // runtime's blocking pool (name lookups, stdin, SQLite writes waiting
    // for the lock one at a time, checkpoints), so it is held to a few
    // threads rather than tokio's 512, each with its stack.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

pub(crate) type CliResult = Result<(), String>;

async fn run(cli: Cli) -> CliResult {
    let config = Config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve { demo } => serve(config, demo).await,
        Command::Migrate => {
            app::open_store(&config).await.map_err(|e| e.to_string())?;
            println!("database is up to date");
            Ok(())
        }
        command => {
            let (store, master) = app::open_store(&config).await.map_err(|e| e.to_string())?;
            let store = store.as_ref();
            match command {
                Command::Clients(command) => run_clients(store, &config, &master, command).await,
                Command::Users(command) => run_users(store, command).await,
                Command::Orgs(command) => run_orgs(store, command).await,
                Command::Keys(command) => run_keys(store, &config, &master, command).await,
                Command::AdminKeys(command) => run_admin_keys(store, &config, command).await,
                Command::ApiKeys(command) => run_api_keys(store, &config, command).await,
                Command::InitialAccessTokens(command) => {
                    run_initial_access_tokens(store, &config, command).await
                }
                Command::Serve { .. } | Command::Migrate => Ok(()),
            }
        }
    }
}

async fn serve(config: Config, seed_demo: bool) -> CliResult {
    let mut app = App::build(config).await.map_err(|e| e.to_string())?;
    if seed_demo {
        let credentials = app.enable_demo(unix_now()).await.map_err(|e| e.to_string())?;
        print_demo(&credentials);
    }
    let state = app.state().clone();
    let addr = app.local_addr().map_err(|e| e.to_string())?;
    // Signals are handled from before the server says it listens.
    let shutdown = app::shutdown_signal();
    tracing::info!(issuer = %state.config.issuer, "latchkey listening on http://{addr}");
    if let Some(Ok(metrics)) = app.metrics_addr() {
        tracing::info!("metrics on http://{metrics}/metrics");
    }
    app.run(shutdown).await.map_err(|e| e.to_string())
}

/// The demo's credentials and where to start. The authorization URL comes
/// last: it is the line to open.
fn print_demo(credentials: &demo::DemoCredentials) {
    let client = &credentials.client;
    println!("Demo data is ready.");
    println!("  organizations:     Acme Legal (FIRM_ADMIN), Birch & Partners (ATTORNEY)");
    println!(
        "  user:              {} / {}",
        demo::DEMO_EMAIL,
        demo::DEMO_PASSWORD
    );
    println!("  client_id:         {}", client.client_id);
    println!("  client_secret:     {}", client.client_secret.expose());
    println!("  admin API key:     {}", credentials.admin_api_key.expose());
    println!("  redirect_uri:      {}", client.redirect_uri);
    println!("  code_verifier:     {}", client.code_verifier.expose());
    println!("Open the URL below, sign in as the user above and approve: the demo");
    println!("app's callback page on this server exchanges the code and shows the tokens.");
    println!("  authorization URL: {}", client.authorization_url);
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command, KeysCommand};

    /// A key id is base64url, so one in 32 begins with `-`: it is still
    /// the key id, not an option.
    #[test]
    fn a_key_id_may_begin_with_a_hyphen() {
        let cli = Cli::try_parse_from(["latchkey", "keys", "retire", "-Yx3kQ", "--force"]).unwrap();
        match cli.command {
            Command::Keys(KeysCommand::Retire { kid, force }) => {
                assert_eq!(kid, "-Yx3kQ");
                assert!(force);
            }
            other => panic!("{other:?}"),
        }
    }
}
