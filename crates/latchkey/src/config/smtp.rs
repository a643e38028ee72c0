//! `[smtp]`: the mail server Latchkey sends password-reset and
//! email-verification links through. Without `smtp.host` no mail is sent
//! and neither link is offered. Validated here: the host, the port, the
//! sender's mailbox, the transport security (plain text only to a
//! loopback host), the credentials in pairs, and the links' lifetimes.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, invalid};
use crate::mail::Sender;
use crate::secret::Secret;

/// `[smtp]` as an operator writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Option<String>,
    pub tls: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub reset_link_ttl_seconds: Option<u64>,
    pub verify_link_ttl_seconds: Option<u64>,
}

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required.
    StartTls,
    /// TLS from the first byte (SMTPS, "implicit TLS").
    Tls,
    /// No encryption: only to a loopback host (a local relay or a test sink).
    None,
}

/// `[smtp]`, validated.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Username and password, when the server wants them.
    pub credentials: Option<(String, Secret)>,
    pub from: Sender,
    /// The longest wait for each exchange with the server.
    pub timeout: Duration,
    pub reset_link_ttl_seconds: i64,
    pub verify_link_ttl_seconds: i64,
}

const MAX_LINK_TTL_SECONDS: u64 = 7 * 86_400;

fn link_ttl(key: &str, value: Option<u64>, default: u64) -> Result<i64, ConfigError> {
    match value.unwrap_or(default) {
        n if n < 60 => Err(invalid(key, "must be at least 60 seconds")),
        n if n > MAX_LINK_TTL_SECONDS => Err(invalid(key, "must be at most 604800 seconds (7 days)")),
        n => Ok(i64::try_from(n).unwrap_or(i64::MAX)),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

impl RawSmtp {
    /// `None` without `smtp.host` (and nothing else of `[smtp]` set).
    pub(super) fn validate(self) -> Result<Option<Smtp>, ConfigError> {
        let host = self.host.as_deref().map(str::trim).unwrap_or_default();
        if host.is_empty() {
            let others = self.port.is_some()
                || self.username.is_some()
                || self.password.is_some()
                || self.from.is_some()
                || self.tls.is_some();
            if others {
                return Err(invalid(
                    "smtp.host",
                    "is required when other `smtp.*` keys are set: the mail server's host name, e.g. smtp.example.com",
                ));
            }
            return Ok(None);
        }
        if host.contains(|c: char| c.is_whitespace() || c == '/' || c == ':') && !host.starts_with('[') {
            return Err(invalid(
                "smtp.host",
                format!(
                    "is `{host}`, expected a host name or address without scheme or port (the port is `smtp.port`)"
                ),
            ));
        }
        let tls = match self.tls.as_deref().map(str::trim) {
            None | Some("starttls") => SmtpTls::StartTls,
            Some("tls") => SmtpTls::Tls,
            Some("none") if is_loopback(host) => SmtpTls::None,
            Some("none") => {
                return Err(invalid(
                    "smtp.tls",
                    format!(
                        "is `none`, which is allowed only for a loopback host (localhost, 127.0.0.1, ::1: a local relay or a test sink); `{host}` needs `starttls` or `tls`"
                    ),
                ));
            }
            Some(other) => {
                return Err(invalid(
                    "smtp.tls",
                    format!("is `{other}`, expected `starttls`, `tls` or `none`"),
                ));
            }
        };
        let port = match self.port {
            Some(0) => return Err(invalid("smtp.port", "must be between 1 and 65535")),
            Some(port) => port,
            None => match tls {
                SmtpTls::StartTls => 587,
                SmtpTls::Tls => 465,
                SmtpTls::None => 25,
            },
        };
        let credentials = match (self.username, self.password) {
            (None, None) => None,
            (Some(username), Some(password)) if !username.trim().is_empty() => {
                Some((username.trim().to_owned(), password))
            }
            (Some(_), Some(_)) => return Err(invalid("smtp.username", "must not be empty")),
            (Some(_), None) => return Err(invalid("smtp.password", "is required with `smtp.username`")),
            (None, Some(_)) => return Err(invalid("smtp.username", "is required with `smtp.password`")),
        };
        let from_text = self.from.as_deref().map(str::trim).unwrap_or_default();
        if from_text.is_empty() {
            return Err(invalid(
                "smtp.from",
                "is required with `smtp.host`: the sender, e.g. `Acme <no-reply@acme.example>`",
            ));
        }
        let from = Sender::parse(from_text).map_err(|problem| {
            invalid(
                "smtp.from",
                format!("is `{from_text}`, not a mailbox ({problem}); expected e.g. `Acme <no-reply@acme.example>`"),
            )
        })?;
        let timeout = match self.timeout_seconds {
            None => 10,
            Some(0) => return Err(invalid("smtp.timeout_seconds", "must be at least 1")),
            Some(n) if n > 60 => return Err(invalid("smtp.timeout_seconds", "must be at most 60")),
            Some(n) => n,
        };
        Ok(Some(Smtp {
            host: host.to_owned(),
            port,
            tls,
            credentials,
            from,
            timeout: Duration::from_secs(timeout),
            reset_link_ttl_seconds: link_ttl(
                "smtp.reset_link_ttl_seconds",
                self.reset_link_ttl_seconds,
                1800,
            )?,
            verify_link_ttl_seconds: link_ttl(
                "smtp.verify_link_ttl_seconds",
                self.verify_link_ttl_seconds,
                86_400,
            )?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(host: &str, tls: Option<&str>) -> RawSmtp {
        RawSmtp {
            host: Some(host.into()),
            tls: tls.map(str::to_owned),
            from: Some("Acme <no-reply@acme.test>".into()),
            ..RawSmtp::default()
        }
    }

    #[test]
    fn no_host_means_no_mail_but_other_keys_alone_are_refused() {
        assert!(RawSmtp::default().validate().unwrap().is_none());
        let error = RawSmtp {
            from: Some("a@b.test".into()),
            ..RawSmtp::default()
        }
        .validate()
        .unwrap_err();
        assert!(error.0.contains("smtp.host"), "{error}");
    }

    #[test]
    fn plain_text_only_to_a_loopback_host() {
        for host in ["localhost", "127.0.0.1", "[::1]"] {
            let smtp = raw(host, Some("none")).validate().unwrap().unwrap();
            assert_eq!((smtp.tls, smtp.port), (SmtpTls::None, 25));
        }
        let error = raw("smtp.example.com", Some("none")).validate().unwrap_err();
        assert!(error.0.contains("loopback"), "{error}");
        let smtp = raw("smtp.example.com", None).validate().unwrap().unwrap();
        assert_eq!((smtp.tls, smtp.port), (SmtpTls::StartTls, 587));
        let smtp = raw("smtp.example.com", Some("tls")).validate().unwrap().unwrap();
        assert_eq!((smtp.tls, smtp.port), (SmtpTls::Tls, 465));
        assert!(raw("smtp.example.com", Some("ssl")).validate().is_err());
    }

    #[test]
    fn the_sender_must_be_a_mailbox_and_credentials_come_in_pairs() {
        let mut bad = raw("smtp.example.com", None);
        bad.from = Some("not a mailbox".into());
        assert!(bad.validate().unwrap_err().0.contains("smtp.from"));
        let mut half = raw("smtp.example.com", None);
        half.username = Some("mailer".into());
        assert!(half.validate().unwrap_err().0.contains("smtp.password"));
        let mut ttl = raw("smtp.example.com", None);
        ttl.reset_link_ttl_seconds = Some(5);
        assert!(ttl.validate().unwrap_err().0.contains("reset_link_ttl_seconds"));
    }
}
