//! The command line: `serve` (optionally `--demo`), `migrate`, and the
//! operator's management commands for clients, users, organizations,
//! memberships, signing keys and admin API keys. Management commands work on
//! the configured database directly, through the same domain functions as
//! the admin API. Secrets are read from stdin or a prompt, never from argv.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::accounts::{self, NewUser, api_keys};
use crate::app::{self, App};
use crate::audit::Actor;
use crate::clients::{self, Changes, Registration};
use crate::config::Config;
use crate::keys::{self, KeyState};
use crate::secret::Secret;
use crate::store::Store;
use crate::{demo, unix_now};

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
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Register a client and print its id and secret (shown once).
    Create(CreateClientArgs),
    /// List clients.
    List,
    /// Show one client as JSON.
    Show { client_id: String },
    /// Change a client's name, description or redirect URIs.
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
    },
    /// Issue a new secret; the old one stops working at once.
    RotateSecret { client_id: String },
    /// Refuse new authorizations and stop the client's tokens.
    Disable { client_id: String },
    /// Allow new authorizations again.
    Enable { client_id: String },
    /// Delete a client with its grants and tokens.
    Delete { client_id: String },
}

#[derive(Debug, Args)]
struct CreateClientArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    description: Option<String>,
    /// Repeat for several.
    #[arg(long = "redirect-uri", required = true)]
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
    #[arg(long)]
    organization_id: Option<String>,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
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
}

#[derive(Debug, Subcommand)]
enum OrgsCommand {
    Create {
        #[arg(long)]
        name: String,
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
enum KeysCommand {
    /// Every key with its state.
    List,
    /// Add a new key: published now, signing after `signing.rotation_lead_seconds`.
    Rotate {
        /// Start signing with the new key at once.
        #[arg(long)]
        now: bool,
    },
    /// Stop publishing a key that no longer signs.
    Retire {
        kid: String,
        /// Retire even though tokens it signed may not have expired yet.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeysCommand {
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
enum AdminKeysCommand {
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

/// Runs the command line; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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

type CliResult = Result<(), String>;

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
                Command::Clients(command) => run_clients(store, &config, command).await,
                Command::Users(command) => run_users(store, command).await,
                Command::Orgs(command) => run_orgs(store, command).await,
                Command::Keys(command) => run_keys(store, &config, &master, command).await,
                Command::AdminKeys(command) => run_admin_keys(store, &config, command).await,
                Command::ApiKeys(command) => run_api_keys(store, &config, command).await,
                Command::Serve { .. } | Command::Migrate => Ok(()),
            }
        }
    }
}

async fn serve(config: Config, seed_demo: bool) -> CliResult {
    let app = App::build(config).await.map_err(|e| e.to_string())?;
    let state = app.state().clone();
    if seed_demo {
        let credentials = demo::seed(
            state.store.as_ref(),
            &state.config,
            state.keys.master(),
            unix_now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        print_demo(&credentials);
    }
    let addr = app.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(issuer = %state.config.issuer, "latchkey listening on http://{addr}");
    app.run(app::shutdown_signal()).await.map_err(|e| e.to_string())
}

fn print_demo(credentials: &demo::DemoCredentials) {
    println!("Demo data is ready.");
    println!("  organizations:     Acme Legal (FIRM_ADMIN), Birch & Partners (ATTORNEY)");
    println!(
        "  user:              {} / {}",
        demo::DEMO_EMAIL,
        demo::DEMO_PASSWORD
    );
    println!("  client_id:         {}", credentials.client_id);
    println!("  client_secret:     {}", credentials.client_secret.expose());
    println!("  admin API key:     {}", credentials.admin_api_key.expose());
    println!("  redirect_uri:      {}", demo::DEMO_REDIRECT_URI);
    println!("  code_verifier:     {}", credentials.code_verifier.expose());
    println!("  authorization URL: {}", credentials.authorization_url);
    let _ = std::io::stdout().flush();
}

fn split_scopes(scopes: Vec<String>) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_owned)
        .collect()
}

fn print_json(value: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn client_json(client: &crate::store::ClientRecord) -> serde_json::Value {
    serde_json::json!({
        "clientId": client.client_id,
        "name": client.name,
        "description": client.description,
        "homepageUrl": client.homepage_url,
        "logoUrl": client.logo_url,
        "redirectUris": client.redirect_uris,
        "allowed_scopes": client.allowed_scopes,
        "tokenEndpointAuthMethod": client.token_endpoint_auth_method,
        "organizationId": client.organization_id,
        "enabled": client.enabled,
    })
}

async fn run_clients(store: &dyn Store, config: &Config, command: ClientsCommand) -> CliResult {
    let now = unix_now();
    match command {
        ClientsCommand::Create(args) => {
            let registration = Registration {
                name: args.name,
                description: args.description,
                homepage_url: args.homepage_url,
                logo_url: args.logo_url,
                redirect_uris: args.redirect_uris,
                allowed_scopes: split_scopes(args.scopes),
                token_endpoint_auth_method: args.auth_method,
                organization_id: args.organization_id,
            };
            let registered = clients::register(store, config, registration, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("client_id:     {}", registered.client.client_id);
            match registered.client_secret {
                Some(secret) => {
                    println!("client_secret: {}", secret.expose());
                    println!("Save the client secret - it will not be shown again.");
                }
                None => println!("public client: no secret; it must use PKCE"),
            }
        }
        ClientsCommand::List => {
            let clients = store.list_clients().await.map_err(|e| e.to_string())?;
            println!("{:<40} {:<9} {:<20} NAME", "CLIENT_ID", "ENABLED", "AUTH_METHOD");
            for client in clients {
                println!(
                    "{:<40} {:<9} {:<20} {}",
                    client.client_id, client.enabled, client.token_endpoint_auth_method, client.name
                );
            }
        }
        ClientsCommand::Show { client_id } => {
            let client = clients::find(store, &client_id)
                .await
                .map_err(|e| e.to_string())?;
            print_json(&client_json(&client))?;
        }
        ClientsCommand::Update {
            client_id,
            name,
            description,
            redirect_uris,
            scopes,
        } => {
            let changes = Changes {
                name,
                description,
                redirect_uris: (!redirect_uris.is_empty()).then_some(redirect_uris),
                allowed_scopes: (!scopes.is_empty()).then(|| split_scopes(scopes)),
                ..Changes::default()
            };
            let client = clients::update(store, config, &client_id, changes, now)
                .await
                .map_err(|e| e.to_string())?;
            print_json(&client_json(&client))?;
        }
        ClientsCommand::RotateSecret { client_id } => {
            let secret = clients::rotate_secret(store, config, &client_id, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("client_secret: {}", secret.expose());
            println!(
                "Save the new secret - it will not be shown again. The previous secret no longer works."
            );
        }
        ClientsCommand::Disable { client_id } => {
            clients::set_enabled(store, &client_id, false, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("client {client_id} disabled");
        }
        ClientsCommand::Enable { client_id } => {
            clients::set_enabled(store, &client_id, true, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("client {client_id} enabled");
        }
        ClientsCommand::Delete { client_id } => {
            clients::delete(store, &client_id, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("client {client_id} deleted");
        }
    }
    Ok(())
}

/// Reads a secret: a hidden prompt on a terminal, else one line of stdin.
fn read_secret(prompt: &str) -> Result<Secret, String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt)
            .map(Secret::new)
            .map_err(|e| e.to_string());
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(Secret::new(line.trim_end_matches(['\r', '\n'])))
}

async fn run_users(store: &dyn Store, command: UsersCommand) -> CliResult {
    match command {
        UsersCommand::Create {
            email,
            name,
            email_verified,
        } => {
            let password = read_secret("Password: ")?;
            let user = accounts::create_user(
                store,
                NewUser {
                    email,
                    name,
                    password,
                    email_verified,
                },
                unix_now(),
            )
            .await
            .map_err(|e| e.to_string())?;
            println!("{}", user.id);
        }
        UsersCommand::List => {
            let users = store.list_users().await.map_err(|e| e.to_string())?;
            println!("{:<36}  {:<30} NAME", "ID", "EMAIL");
            for user in users {
                println!("{:<36}  {:<30} {}", user.id, user.email, user.name);
            }
        }
        UsersCommand::Show { user_id } => {
            let user = accounts::find_user(store, &user_id)
                .await
                .map_err(|e| e.to_string())?;
            let memberships = store
                .list_memberships(&user.id)
                .await
                .map_err(|e| e.to_string())?;
            print_json(&serde_json::json!({
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "emailVerified": user.email_verified,
                "memberships": memberships.iter().map(|m| serde_json::json!({
                    "organizationId": m.organization_id, "role": m.role
                })).collect::<Vec<_>>(),
            }))?;
        }
        UsersCommand::Delete { user_id } => {
            accounts::delete_user(store, &user_id)
                .await
                .map_err(|e| e.to_string())?;
            println!("user {user_id} deleted");
        }
    }
    Ok(())
}

async fn run_orgs(store: &dyn Store, command: OrgsCommand) -> CliResult {
    let now = unix_now();
    match command {
        OrgsCommand::Create { name } => {
            let organization = accounts::create_organization(store, &name, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", organization.id);
        }
        OrgsCommand::List => {
            let organizations = store.list_organizations().await.map_err(|e| e.to_string())?;
            println!("{:<36}  NAME", "ID");
            for organization in organizations {
                println!("{:<36}  {}", organization.id, organization.name);
            }
        }
        OrgsCommand::Show { organization_id } => {
            let organization = accounts::find_organization(store, &organization_id)
                .await
                .map_err(|e| e.to_string())?;
            print_json(&serde_json::json!({"id": organization.id, "name": organization.name}))?;
        }
        OrgsCommand::Delete { organization_id } => {
            accounts::delete_organization(store, &organization_id)
                .await
                .map_err(|e| e.to_string())?;
            println!("organization {organization_id} deleted");
        }
        OrgsCommand::AddMember {
            organization_id,
            user_id,
            role,
        } => {
            accounts::set_membership(store, &organization_id, &user_id, &role, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("user {user_id} is a member of {organization_id} with role {role}");
        }
        OrgsCommand::RemoveMember {
            organization_id,
            user_id,
        } => {
            accounts::remove_membership(store, &organization_id, &user_id)
                .await
                .map_err(|e| e.to_string())?;
            println!("user {user_id} removed from {organization_id}");
        }
        OrgsCommand::Members { organization_id } => {
            accounts::find_organization(store, &organization_id)
                .await
                .map_err(|e| e.to_string())?;
            let members = store
                .list_members(&organization_id)
                .await
                .map_err(|e| e.to_string())?;
            println!("{:<36}  ROLE", "USER_ID");
            for member in members {
                println!("{:<36}  {}", member.user_id, member.role);
            }
        }
    }
    Ok(())
}

async fn run_keys(
    store: &dyn Store,
    config: &Config,
    master: &crate::secret::MasterKey,
    command: KeysCommand,
) -> CliResult {
    let now = unix_now();
    match command {
        KeysCommand::List => {
            let records = store.list_signing_keys().await.map_err(|e| e.to_string())?;
            println!(
                "{:<45} {:<6} {:<9} {:<12} ACTIVATES_AT",
                "KID", "ALG", "STATE", "CREATED_AT"
            );
            for status in keys::describe(&records, now) {
                let state = match status.state {
                    KeyState::Pending => "pending",
                    KeyState::Active => "active",
                    KeyState::Previous => "previous",
                    KeyState::Retired => "retired",
                };
                println!(
                    "{:<45} {:<6} {:<9} {:<12} {}",
                    status.kid, status.alg, state, status.created_at, status.activates_at
                );
            }
        }
        KeysCommand::Rotate { now: immediately } => {
            let lead = if immediately {
                0
            } else {
                i64::try_from(config.signing.rotation_lead.as_secs()).unwrap_or(i64::MAX)
            };
            let record = keys::rotate(store, master, now, lead)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "new signing key {} published; it signs from {} (unix time)",
                record.kid, record.activates_at
            );
        }
        KeysCommand::Retire { kid, force } => {
            let ttl = config
                .tokens
                .access_token_ttl
                .max(config.tokens.id_token_ttl)
                .as_secs();
            keys::retire(store, &kid, now, i64::try_from(ttl).unwrap_or(i64::MAX), force)
                .await
                .map_err(|e| e.to_string())?;
            println!("signing key {kid} retired");
        }
    }
    Ok(())
}

async fn run_admin_keys(store: &dyn Store, config: &Config, command: AdminKeysCommand) -> CliResult {
    match command {
        AdminKeysCommand::Create { name } => {
            let (record, key) =
                accounts::create_admin_key(store, &config.prefixes.admin_api_key, &name, unix_now())
                    .await
                    .map_err(|e| e.to_string())?;
            println!("id:  {}", record.id);
            println!("key: {}", key.expose());
            println!("Save the key - it will not be shown again.");
        }
        AdminKeysCommand::List => {
            let keys = store.list_admin_keys().await.map_err(|e| e.to_string())?;
            println!("{:<40} NAME", "ID");
            for key in keys {
                println!("{:<40} {}", key.id, key.name);
            }
            if !config.admin_api_keys.is_empty() {
                println!("(and {} key(s) from configuration)", config.admin_api_keys.len());
            }
        }
        AdminKeysCommand::Revoke { id } => {
            accounts::revoke_admin_key(store, &id)
                .await
                .map_err(|e| e.to_string())?;
            println!("admin API key {id} revoked");
        }
    }
    Ok(())
}

async fn run_api_keys(store: &dyn Store, config: &Config, command: ApiKeysCommand) -> CliResult {
    let now = unix_now();
    match command {
        ApiKeysCommand::Create {
            organization_id,
            name,
            scopes,
        } => {
            let (record, key) = api_keys::create(
                store,
                config,
                &organization_id,
                &name,
                &split_scopes(scopes),
                &Actor::Cli,
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
            println!("id:      {}", record.id);
            println!("api key: {}", key.expose());
            println!("Save the key - it will not be shown again.");
        }
        ApiKeysCommand::List { organization_id } => {
            accounts::find_organization(store, &organization_id)
                .await
                .map_err(|e| e.to_string())?;
            let keys = store
                .list_api_keys(&organization_id)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:<38} {:<8} {:<12} {:<30} NAME",
                "ID", "STATE", "LAST_USED", "SCOPES"
            );
            for key in keys {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let used = key
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), |t| t.to_string());
                println!(
                    "{:<38} {:<8} {:<12} {:<30} {}",
                    key.id,
                    state,
                    used,
                    key.scopes.join(" "),
                    key.name
                );
            }
        }
        ApiKeysCommand::Revoke { organization_id, id } => {
            api_keys::revoke(store, &organization_id, &id, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("API key {id} revoked");
        }
    }
    Ok(())
}
