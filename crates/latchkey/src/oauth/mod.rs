//! Protocol rules, one file per endpoint or rule, free of HTTP and SQL:
//! handlers in `http/` call these with typed input and the current time.

pub mod authorize;
pub mod client_auth;
pub mod client_id_metadata;
pub mod discovery;
pub mod error;
pub mod grant_type;
pub mod params;
pub mod pkce;
pub mod resource;
pub mod revoke;
pub mod scope;
pub mod token;
pub mod userinfo;
