//! The management commands: clients, users, organizations and members,
//! signing keys, admin API keys and API keys, acting on the configured
//! database through the same domain functions as the admin API.

use std::io::{BufRead, IsTerminal};

use super::{
    AdminKeysCommand, ApiKeysCommand, CliResult, ClientsCommand, InitialAccessTokensCommand, KeysCommand,
    OrgsCommand, UsersCommand,
};
use crate::accounts::{self, NewUser, api_keys, second_factor};
use crate::audit::Actor;
use crate::clients::{self, Approval, Changes, Registration, scope_review};
use crate::config::{Config, seconds};
use crate::keys::{self, KeyState};
use crate::secret::Secret;
use crate::store::{ScopeReviewStatus, Store};
use crate::unix_now;

/// Repeated flags whose values may also be space-separated lists.
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
        "grantTypes": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "idTokenSignedResponseAlg": client.id_token_signed_response_alg.map(keys::Alg::as_str),
        "enabled": client.enabled,
        "origin": client.origin.as_str(),
    })
}

/// Makes sure the algorithm a client asks for has a signing key; a running
/// server publishes it at its next key reload.
async fn ensure_client_alg(
    store: &dyn Store,
    master: &crate::secret::MasterKey,
    client: &crate::store::ClientRecord,
    now: i64,
) -> CliResult {
    if let Some(alg) = client.id_token_signed_response_alg {
        for record in keys::ensure_signing_keys(store, master, &[alg], now)
            .await
            .map_err(|e| e.to_string())?
        {
            println!("new {} signing key {} published", record.alg, record.kid);
        }
    }
    Ok(())
}

pub(super) async fn run_clients(
    store: &dyn Store,
    config: &Config,
    master: &crate::secret::MasterKey,
    command: ClientsCommand,
) -> CliResult {
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
                grant_types: (!args.grant_types.is_empty()).then(|| split_scopes(args.grant_types)),
                id_token_signed_response_alg: args.id_token_alg,
                approval: Approval::AsRegistered,
            };
            let registered = clients::register(store, config, registration, now)
                .await
                .map_err(|e| e.to_string())?;
            ensure_client_alg(store, master, &registered.client, now).await?;
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
            id_token_alg,
            grant_types,
            organization_id,
        } => {
            let changes = Changes {
                name,
                description,
                redirect_uris: (!redirect_uris.is_empty()).then_some(redirect_uris),
                allowed_scopes: (!scopes.is_empty()).then(|| split_scopes(scopes)),
                id_token_signed_response_alg: id_token_alg.map(|alg| (alg != "default").then_some(alg)),
                grant_types: (!grant_types.is_empty()).then(|| split_scopes(grant_types)),
                organization_id: organization_id.map(|id| (id != "none").then_some(id)),
                ..Changes::default()
            };
            let client = clients::update(store, config, &client_id, changes, now)
                .await
                .map_err(|e| e.to_string())?;
            ensure_client_alg(store, master, &client, now).await?;
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
        ClientsCommand::Approvals { status } => {
            let status = ScopeReviewStatus::parse(&status)
                .ok_or_else(|| format!("--status must be pending or denied, not `{status}`"))?;
            let listings = scope_review::list(store, status)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:<40} {:<16} {:<9} {:<24} NAME",
                "CLIENT_ID", "SCOPE", "STATUS", "ORGANIZATION"
            );
            for listing in listings {
                let review = listing.review;
                let organization = listing.organization_name.unwrap_or_else(|| "-".into());
                println!(
                    "{:<40} {:<16} {:<9} {:<24} {}",
                    review.client_id,
                    review.scope,
                    review.status.as_str(),
                    organization,
                    listing.client_name
                );
            }
        }
        ClientsCommand::Approve { client_id, scope } => {
            scope_review::approve(store, config, &client_id, &scope, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("scope {scope} approved for client {client_id}");
        }
        ClientsCommand::Deny {
            client_id,
            scope,
            reason,
        } => {
            scope_review::deny(store, &client_id, &scope, &reason, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("scope {scope} denied for client {client_id}");
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

pub(super) async fn run_users(store: &dyn Store, command: UsersCommand) -> CliResult {
    match command {
        UsersCommand::Create {
            email,
            name,
            email_verified,
        } => {
            let password = read_secret("Password: ")?;
            let passwords = accounts::password::Passwords::start(1, 1);
            let user = accounts::create_user(
                store,
                &passwords,
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
        UsersCommand::ResetSecondFactors { user_id } => {
            accounts::find_user(store, &user_id)
                .await
                .map_err(|e| e.to_string())?;
            let reset = second_factor::reset_all(store, &Actor::Cli, &user_id, unix_now())
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "user {user_id}: authenticator app {}, {} passkey(s) removed",
                if reset.authenticator_app {
                    "removed"
                } else {
                    "none"
                },
                reset.passkeys
            );
        }
        UsersCommand::Import { file } => super::import::run(store, &file).await?,
    }
    Ok(())
}

pub(super) async fn run_orgs(store: &dyn Store, command: OrgsCommand) -> CliResult {
    let now = unix_now();
    match command {
        OrgsCommand::Create {
            name,
            require_second_factor,
        } => {
            let organization = accounts::create_organization(store, &name, now)
                .await
                .map_err(|e| e.to_string())?;
            if require_second_factor {
                second_factor::set_organization_rule(store, &Actor::Cli, &organization.id, true, now)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            println!("{}", organization.id);
        }
        OrgsCommand::Update {
            organization_id,
            require_second_factor,
            no_require_second_factor: _,
        } => {
            let found = second_factor::set_organization_rule(
                store,
                &Actor::Cli,
                &organization_id,
                require_second_factor,
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
            if !found {
                return Err(format!("no organization has the id `{organization_id}`"));
            }
            let rule = if require_second_factor { "must" } else { "need not" };
            println!("members of {organization_id} {rule} use a second factor");
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
            let required = store
                .organizations_requiring_second_factor(std::slice::from_ref(&organization.id))
                .await
                .map_err(|e| e.to_string())?;
            print_json(&serde_json::json!({
                "id": organization.id,
                "name": organization.name,
                "requireSecondFactor": !required.is_empty(),
            }))?;
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

pub(super) async fn run_keys(
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
        KeysCommand::Rotate {
            now: immediately,
            alg,
        } => {
            let lead = if immediately {
                0
            } else {
                seconds(config.signing.rotation_lead)
            };
            let algs = match alg {
                Some(name) => {
                    vec![keys::Alg::parse(&name).ok_or_else(|| {
                        format!("--alg must be one of {}, not `{name}`", keys::Alg::names())
                    })?]
                }
                None => keys::algs_with_keys(&store.list_signing_keys().await.map_err(|e| e.to_string())?),
            };
            for alg in algs {
                let record = keys::rotate(store, master, alg, now, lead)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "new {} signing key {} published; it signs from {} (unix time)",
                    record.alg, record.kid, record.activates_at
                );
            }
        }
        KeysCommand::Retire { kid, force } => {
            let ttl = config.tokens.longest_token_lifetime();
            keys::retire(store, &kid, now, ttl, force)
                .await
                .map_err(|e| e.to_string())?;
            println!("signing key {kid} retired");
        }
    }
    Ok(())
}

pub(super) async fn run_admin_keys(
    store: &dyn Store,
    config: &Config,
    command: AdminKeysCommand,
) -> CliResult {
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

pub(super) async fn run_api_keys(store: &dyn Store, config: &Config, command: ApiKeysCommand) -> CliResult {
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

pub(super) async fn run_initial_access_tokens(
    store: &dyn Store,
    config: &Config,
    command: InitialAccessTokensCommand,
) -> CliResult {
    let now = unix_now();
    match command {
        InitialAccessTokensCommand::Create {
            name,
            expires_in,
            max_uses,
        } => {
            let new = clients::initial_access::NewToken {
                name,
                expires_in,
                max_uses,
            };
            let (record, token) = clients::initial_access::create(store, config, new, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("id:    {}", record.id);
            println!("token: {}", token.expose());
            println!("Save the token - it will not be shown again.");
        }
        InitialAccessTokensCommand::List => {
            let tokens = store
                .list_initial_access_tokens()
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:<38} {:<8} {:<12} {:<10} {:<6} NAME",
                "ID", "STATE", "EXPIRES_AT", "MAX_USES", "USES"
            );
            for token in tokens {
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else if token.is_usable(now) {
                    "active"
                } else {
                    "spent"
                };
                let expires = token
                    .expires_at
                    .map_or_else(|| "never".to_owned(), |t| t.to_string());
                let max_uses = token.max_uses.map_or_else(|| "any".to_owned(), |n| n.to_string());
                println!(
                    "{:<38} {:<8} {:<12} {:<10} {:<6} {}",
                    token.id, state, expires, max_uses, token.uses, token.name
                );
            }
        }
        InitialAccessTokensCommand::Revoke { id } => {
            clients::initial_access::revoke(store, &id, &Actor::Cli, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("initial access token {id} revoked");
        }
    }
    Ok(())
}
