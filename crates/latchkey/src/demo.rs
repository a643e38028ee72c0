//! `serve --demo`: seeds, idempotently, the demo data of SPEC 2 — two
//! organizations, alice@example.com in both, one confidential app — and
//! returns credentials to print. The app's secret and the demo admin key
//! are derived from the master key, so every start prints the same working
//! values while storage holds only their digests.

use url::form_urlencoded;

use crate::accounts::{self, AccountError, NewUser};
use crate::clients::{self, ClientError, Registration};
use crate::config::Config;
use crate::secret::{MasterKey, Secret, derive_token, generate_token};
use crate::store::{AdminKeyRecord, OrganizationRecord, Store, StoreError};

pub const DEMO_EMAIL: &str = "alice@example.com";
pub const DEMO_PASSWORD: &str = "correct horse battery staple";
/// Fixed ids, so a second start finds what the first created.
const ORGANIZATIONS: [(&str, &str, &str); 2] = [
    ("3f1c2a10-5b7e-4c1d-9a00-00000000ac01", "Acme Legal", "FIRM_ADMIN"),
    (
        "3f1c2a10-5b7e-4c1d-9a00-00000000b102",
        "Birch & Partners",
        "ATTORNEY",
    ),
];
pub const DEMO_REDIRECT_URI: &str = "http://localhost:3000/oauth/callback";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("seeding demo accounts failed: {0}")]
    Accounts(#[from] AccountError),
    #[error("seeding the demo app failed: {0}")]
    Client(#[from] ClientError),
    #[error("seeding demo data failed: {0}")]
    Store(#[from] StoreError),
    #[error("seeding demo clients failed: {0}")]
    Resources(#[from] crate::resources::ResourceError),
}

/// What `serve --demo` prints.
#[derive(Debug)]
pub struct DemoCredentials {
    pub client_id: String,
    pub client_secret: Secret,
    pub admin_api_key: Secret,
    pub code_verifier: Secret,
    pub authorization_url: String,
}

/// Creates whatever of the demo data is missing.
pub async fn seed(
    store: &dyn Store,
    config: &Config,
    master: &MasterKey,
    now: i64,
) -> Result<DemoCredentials, DemoError> {
    for (id, name, _) in ORGANIZATIONS {
        if store.find_organization(id).await?.is_none() {
            let organization = OrganizationRecord {
                id: id.to_owned(),
                name: name.to_owned(),
                created_at: now,
            };
            store.insert_organization(&organization).await?;
        }
    }
    let alice = match store.find_user_by_email(DEMO_EMAIL).await? {
        Some(user) => user,
        None => {
            let new = NewUser {
                email: DEMO_EMAIL.to_owned(),
                name: "Alice Example".to_owned(),
                password: Secret::new(DEMO_PASSWORD),
                email_verified: true,
            };
            let passwords = accounts::password::Passwords::start(1, 1);
            accounts::create_user(store, &passwords, new, now).await?
        }
    };
    for (organization_id, _, role) in ORGANIZATIONS {
        accounts::set_membership(store, organization_id, &alice.id, role, now).await?;
    }

    for (organization_id, name, _) in ORGANIZATIONS {
        let page = crate::store::PageRequest {
            after: None,
            limit: 1,
        };
        if store.list_customers(organization_id, page).await?.is_empty() {
            for customer in [
                format!("{name} — First Client"),
                format!("{name} — Second Client"),
            ] {
                crate::resources::create_customer(store, organization_id, &customer, None, now).await?;
            }
        }
    }

    let client_id = format!("{}demo", config.prefixes.client_id);
    let client_secret = derive_token(master, &config.prefixes.client_secret, "demo client secret");
    if store.find_client(&client_id).await?.is_some() {
        store
            .set_client_secret(&client_id, &client_secret.digest(), now)
            .await?;
    } else {
        let registration = Registration {
            name: "Demo App".to_owned(),
            description: Some("A sample app for trying sign-in and consent. It keeps its secret on a server, as a web app would.".to_owned()),
            homepage_url: Some("http://localhost:3000".to_owned()),
            logo_url: None,
            redirect_uris: vec![
                DEMO_REDIRECT_URI.to_owned(),
                "http://localhost:3000/api/auth/callback/latchkey".to_owned(),
            ],
            allowed_scopes: config.scopes.iter().map(|s| s.name.clone()).collect(),
            token_endpoint_auth_method: Some("client_secret_post".to_owned()),
            organization_id: None,
        };
        clients::register_as(
            store,
            config,
            registration,
            client_id.clone(),
            client_secret.clone(),
            now,
        )
        .await?;
    }

    let admin_api_key = match config.admin_api_keys.first() {
        Some(key) => key.clone(),
        None => {
            let key = derive_token(master, &config.prefixes.admin_api_key, "demo admin api key");
            if store.find_admin_key(&key.digest()).await?.is_none() {
                let record = AdminKeyRecord {
                    id: "ak_demo".to_owned(),
                    name: "demo".to_owned(),
                    key_digest: key.digest(),
                    created_at: now,
                };
                store.delete_admin_key(&record.id).await?;
                store.insert_admin_key(&record).await?;
            }
            key
        }
    };

    let code_verifier = generate_token("");
    let state = generate_token("");
    let challenge = crate::secret::pkce_s256_challenge(code_verifier.expose());
    let scope: Vec<&str> = config.scopes.iter().map(|s| s.name.as_str()).collect();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", DEMO_REDIRECT_URI)
        .append_pair("scope", &scope.join(" "))
        .append_pair("state", state.expose())
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let authorization_url = format!("{}?{query}", config.url(&config.paths.authorize));
    Ok(DemoCredentials {
        client_id,
        client_secret,
        admin_api_key,
        code_verifier,
        authorization_url,
    })
}
