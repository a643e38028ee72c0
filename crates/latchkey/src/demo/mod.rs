//! `serve --demo`: seeds, idempotently, the demo data of SPEC 2 — two
//! organizations, alice@example.com in both, one confidential app — and
//! returns credentials to print. The app's secret, the demo admin key and
//! the `state` and PKCE `code_verifier` of the printed authorization URL
//! are derived from the master key, so every start prints the same working
//! values while storage holds only digests. The demo app's redirect URI is
//! a page of this server ([`CALLBACK_PATH`], see [`callback`]), so the
//! printed URL ends in a token.

use url::form_urlencoded;

use crate::accounts::{self, AccountError, NewUser};
use crate::clients::{self, Approval, Changes, ClientError, Registration};
use crate::config::Config;
use crate::secret::{MasterKey, Secret, derive_token, pkce_s256_challenge};
use crate::store::{AdminKeyRecord, ClientRecord, OrganizationRecord, Store, StoreError};

pub mod callback;

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
/// The demo app's callback page on the issuer, served only by
/// `serve --demo`; configured paths may not take it.
pub const CALLBACK_PATH: &str = "/demo/callback";
const DESCRIPTION: &str = "A confidential app seeded by serve --demo. Its callback page on this \
     server exchanges the code and shows the tokens.";

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

/// The demo app as its own code would hold it: its credentials and the
/// one authorization request it makes, all stable across restarts.
#[derive(Debug, Clone)]
pub struct DemoClient {
    pub client_id: String,
    pub client_secret: Secret,
    /// `{issuer}/demo/callback`.
    pub redirect_uri: String,
    /// The `state` of the printed authorization URL. A real client makes a
    /// fresh one for every request and keeps it in the user's session;
    /// the demo derives one from the master key, so the printed URL keeps
    /// working after a restart.
    pub state: Secret,
    /// The PKCE verifier (RFC 7636 §4.1) of the printed URL's challenge.
    pub code_verifier: Secret,
    /// The authorization URL `serve --demo` prints.
    pub authorization_url: String,
}

impl DemoClient {
    /// The demo app of this configuration and master key.
    pub fn new(config: &Config, master: &MasterKey) -> Self {
        let client_id = format!("{}demo", config.prefixes.client_id);
        let client_secret = derive_token(master, &config.prefixes.client_secret, "demo client secret");
        let redirect_uri = config.url(CALLBACK_PATH);
        let state = derive_token(master, "", "demo authorization state");
        let code_verifier = derive_token(master, "", "demo pkce code verifier");
        let scope: Vec<&str> = config.scopes.iter().map(|s| s.name.as_str()).collect();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &scope.join(" "))
            .append_pair("state", state.expose())
            .append_pair("code_challenge", &pkce_s256_challenge(code_verifier.expose()))
            .append_pair("code_challenge_method", "S256")
            .finish();
        let authorization_url = format!("{}?{query}", config.url(&config.paths.authorize));
        Self {
            client_id,
            client_secret,
            redirect_uri,
            state,
            code_verifier,
            authorization_url,
        }
    }

    /// What the app is registered with: every configured scope, its
    /// callback page as the one redirect URI, and HTTP Basic unless the
    /// configuration offers only the other secret method (both work at
    /// the token endpoint either way).
    fn registration(&self, config: &Config) -> Registration {
        let methods = &config.oauth.token_endpoint_auth_methods;
        let method = if methods.iter().any(|m| m == "client_secret_basic") {
            "client_secret_basic"
        } else {
            "client_secret_post"
        };
        Registration {
            name: "Demo App".to_owned(),
            description: Some(DESCRIPTION.to_owned()),
            homepage_url: None,
            logo_url: None,
            redirect_uris: vec![self.redirect_uri.clone()],
            allowed_scopes: config.scopes.iter().map(|s| s.name.clone()).collect(),
            token_endpoint_auth_method: Some(method.to_owned()),
            organization_id: None,
            grant_types: None,
            id_token_signed_response_alg: None,
            approval: Approval::AsRegistered,
        }
    }

    /// The changes that bring an existing demo app back to what
    /// [`DemoClient::registration`] says (a changed issuer or scope
    /// vocabulary, or an app seeded by an older version), if any.
    fn changes(&self, config: &Config, existing: &ClientRecord) -> Option<Changes> {
        let wanted = self.registration(config);
        let same = existing.redirect_uris == wanted.redirect_uris
            && existing.allowed_scopes == wanted.allowed_scopes
            && existing.homepage_url.is_none()
            && existing.description == DESCRIPTION;
        (!same).then(|| Changes {
            description: wanted.description,
            homepage_url: Some(None),
            redirect_uris: Some(wanted.redirect_uris),
            allowed_scopes: Some(wanted.allowed_scopes),
            ..Changes::default()
        })
    }
}

/// What `serve --demo` prints.
#[derive(Debug)]
pub struct DemoCredentials {
    pub client: DemoClient,
    pub admin_api_key: Secret,
}

/// Creates whatever of the demo data is missing, and brings the demo app
/// back to its registration and derived secret.
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

    let client = DemoClient::new(config, master);
    match store.find_client(&client.client_id).await? {
        Some(existing) => {
            store
                .set_client_secret(&client.client_id, &client.client_secret.digest(), now)
                .await?;
            if let Some(changes) = client.changes(config, &existing) {
                clients::update(store, config, &client.client_id, changes, now).await?;
            }
        }
        None => {
            clients::register_as(
                store,
                config,
                client.registration(config),
                client.client_id.clone(),
                client.client_secret.clone(),
                now,
            )
            .await?;
        }
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
    Ok(DemoCredentials {
        client,
        admin_api_key,
    })
}
