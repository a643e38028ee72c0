//! Mail: the one place that knows SMTP (lettre). [`Mailer`] sends plain-text
//! letters through the server `[smtp]` names, each in a task of its own
//! after the request's writes are committed, at most
//! [`MAX_CONCURRENT_SENDS`] at once (a letter beyond that is dropped with a
//! warning: no page's answer depends on a mail), every exchange with the
//! server bounded by `smtp.timeout_seconds` and the whole send by four
//! times that. A letter's body holds a one-time link, so it is a
//! [`Secret`]: never logged, and a failed send logs the error only.
//!
//! The letters themselves ([`reset_letter`], [`verify_letter`]) are
//! composed here too, with the product name from the branding.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncTransport, Tokio1Executor};
use tokio::sync::Semaphore;

use crate::config::{Smtp, SmtpTls};
use crate::secret::Secret;

/// Letters being composed or sent at once; more are dropped.
pub const MAX_CONCURRENT_SENDS: usize = 8;

/// The sender's mailbox (`smtp.from`), e.g. `Acme <no-reply@acme.example>`.
#[derive(Debug, Clone)]
pub struct Sender(Mailbox);

impl Sender {
    /// Parses a mailbox: an address, optionally with a display name.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.parse::<Mailbox>()
            .map(Self)
            .map_err(|error| error.to_string())
    }
}

/// A plain-text letter to one address. The body carries a one-time link.
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub body: Secret,
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &"[redacted]")
            .finish()
    }
}

/// The letter with a password-reset link valid for `ttl_seconds`.
pub fn reset_letter(product: &str, to: &str, link: &Secret, ttl_seconds: i64) -> Letter {
    let minutes = (ttl_seconds / 60).max(1);
    Letter {
        to: to.to_owned(),
        subject: format!("Reset your {product} password"),
        body: Secret::new(format!(
            "Someone asked to reset the password of the {product} account for {to}.\r\n\
             \r\n\
             To choose a new password, open this link within {minutes} minutes:\r\n\
             \r\n\
             {link}\r\n\
             \r\n\
             The link works once. Choosing a new password signs you out everywhere.\r\n\
             If you did not ask for this, ignore this message: your password stays as it is.\r\n",
            link = link.expose(),
        )),
    }
}

/// The letter with an email-verification link valid for `ttl_seconds`.
pub fn verify_letter(product: &str, to: &str, link: &Secret, ttl_seconds: i64) -> Letter {
    let hours = (ttl_seconds / 3600).max(1);
    Letter {
        to: to.to_owned(),
        subject: format!("Confirm your email address for {product}"),
        body: Secret::new(format!(
            "A {product} account was created for {to}.\r\n\
             \r\n\
             To confirm that this address is yours, open this link within {hours} hours\r\n\
             and press the button on the page:\r\n\
             \r\n\
             {link}\r\n\
             \r\n\
             If you do not know why you received this, ignore this message.\r\n",
            link = link.expose(),
        )),
    }
}

/// Why the mailer could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("setting up SMTP to {host} failed: {source}")]
pub struct MailError {
    host: String,
    #[source]
    source: lettre::transport::smtp::Error,
}

/// Sends letters through the configured server, bounded in number and
/// time. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    sends: Arc<Semaphore>,
    deadline: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `settings`, greeting the server as `hello_name` (the
    /// issuer's host).
    pub fn new(settings: &Smtp, hello_name: &str) -> Result<Self, MailError> {
        let failed = |source| MailError {
            host: settings.host.clone(),
            source,
        };
        let builder = match settings.tls {
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host).map_err(failed)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host).map_err(failed)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
        };
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(settings.timeout))
            .hello_name(ClientId::Domain(hello_name.to_owned()));
        if let Some((username, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(username.clone(), password.expose().to_owned()));
        }
        Ok(Self {
            transport: builder.build(),
            from: settings.from.0.clone(),
            sends: Arc::new(Semaphore::new(MAX_CONCURRENT_SENDS)),
            deadline: settings.timeout * 4,
        })
    }

    /// Runs `compose` in a task of its own and sends the letter it gives,
    /// if any: for work (a lookup, a write) whose outcome the request must
    /// neither wait for nor reveal. `false` (nothing runs, a warning is
    /// logged) when [`MAX_CONCURRENT_SENDS`] are under way.
    pub fn compose_and_send<F>(&self, what: &'static str, compose: F) -> bool
    where
        F: Future<Output = Option<Letter>> + Send + 'static,
    {
        let Ok(permit) = Arc::clone(&self.sends).try_acquire_owned() else {
            tracing::warn!(what, "too many mails are being sent; this one is dropped");
            return false;
        };
        let mailer = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Some(letter) = compose.await {
                mailer.send(what, letter).await;
            }
        });
        true
    }

    /// Sends `letter` in a task of its own (see [`Self::compose_and_send`]).
    pub fn send_later(&self, what: &'static str, letter: Letter) -> bool {
        self.compose_and_send(what, async move { Some(letter) })
    }

    async fn send(&self, what: &'static str, letter: Letter) {
        let to = match letter.to.parse::<Address>() {
            Ok(address) => Mailbox::new(None, address),
            Err(error) => {
                tracing::warn!(what, %error, "the recipient is not a deliverable address; no mail sent");
                return;
            }
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(letter.body.expose().to_owned());
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(what, %error, "composing a mail failed");
                return;
            }
        };
        match tokio::time::timeout(self.deadline, self.transport.send(message)).await {
            Ok(Ok(_)) => tracing::info!(what, "mail sent"),
            Ok(Err(error)) => tracing::warn!(what, %error, "sending a mail failed"),
            Err(_) => tracing::warn!(what, "sending a mail timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_name_the_product_and_hide_their_link_from_debug() {
        let link = Secret::new("https://id.acme.test/login/reset?token=rst_sEcReT");
        let letter = reset_letter("Acme", "ana@acme.test", &link, 1800);
        assert_eq!(letter.subject, "Reset your Acme password");
        assert!(letter.body.expose().contains("within 30 minutes"));
        assert!(letter.body.expose().contains(link.expose()));
        assert!(!format!("{letter:?}").contains("sEcReT"));
        let letter = verify_letter("Acme", "ana@acme.test", &link, 86_400);
        assert!(letter.body.expose().contains("within 24 hours"));
    }

    #[test]
    fn the_sender_is_a_mailbox() {
        assert!(Sender::parse("Acme <no-reply@acme.test>").is_ok());
        assert!(Sender::parse("no-reply@acme.test").is_ok());
        assert!(Sender::parse("not a mailbox").is_err());
    }
}
