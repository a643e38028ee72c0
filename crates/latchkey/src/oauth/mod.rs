//! Protocol rules, one file per endpoint or rule, free of HTTP and SQL:
//! handlers in `http/` call these with typed input and the current time.

pub mod discovery;
pub mod scope;
