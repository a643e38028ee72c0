//! `SmtpSink`: a mail server on 127.0.0.1 that speaks just enough SMTP
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to accept every message
//! and keep it for the test to read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct Captured {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent, dot-stuffing undone.
    pub data: String,
}

impl Captured {
    /// The body as a reader sees it: quoted-printable decoded when the
    /// message says it is encoded so (long lines, such as a link, make it so).
    pub fn text(&self) -> String {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        if !head
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: quoted-printable")
        {
            return body.to_owned();
        }
        let joined = body.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (byte, _) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// The first URL in the message's text that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(prefix)?;
        let rest = &text[start..];
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    }

    /// The path and query of the first link whose path starts with
    /// `path` (whatever the issuer the server was given).
    pub fn link_path(&self, path: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(&format!("/{}", path.trim_start_matches('/')))?;
        let rest = &text[start..];
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    }
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<Captured>>>,
    arrived: Arc<Notify>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = Self {
            port,
            messages: Arc::default(),
            arrived: Arc::default(),
        };
        let serving = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = serving.clone();
                tokio::spawn(async move {
                    let _ = session.serve(stream).await;
                });
            }
        });
        sink
    }

    async fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            let verb = command
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
                "HELO" | "NOOP" => b"250 OK\r\n",
                "RSET" => {
                    (from, to) = (String::new(), Vec::new());
                    b"250 OK\r\n"
                }
                "MAIL" => {
                    from = command[5..].trim().trim_start_matches("FROM:").to_owned();
                    b"250 OK\r\n"
                }
                "RCPT" => {
                    to.push(command[5..].trim().trim_start_matches("TO:").to_owned());
                    b"250 OK\r\n"
                }
                "DATA" => {
                    write.write_all(b"354 Go ahead\r\n").await?;
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    }
                    let captured = Captured {
                        from: std::mem::take(&mut from),
                        to: std::mem::take(&mut to),
                        data,
                    };
                    self.messages.lock().unwrap().push(captured);
                    self.arrived.notify_waiters();
                    b"250 Accepted\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 Bye\r\n").await?;
                    return Ok(());
                }
                _ => b"502 Not implemented\r\n",
            };
            write.write_all(reply).await?;
        }
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Captured> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until `count` messages have arrived; returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Captured> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {count} mails, got {}: {:?}", messages.len(), messages);
            }
        }
    }

    /// Waits (up to 10 s) for a message with a link whose path starts
    /// with `path`; the path and query of the newest such link.
    pub async fn wait_for_link(&self, path: &str) -> String {
        for _ in 0..100 {
            if let Some(link) = self.messages().iter().rev().find_map(|m| m.link_path(path)) {
                return link;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail with a link to {path}: {:?}", self.messages());
    }

    /// A configuration tweak that sends mail to this sink.
    pub fn configure(&self, raw: &mut latchkey::config::RawConfig) {
        raw.smtp.host = Some("127.0.0.1".into());
        raw.smtp.port = Some(self.port);
        raw.smtp.tls = Some("none".into());
        raw.smtp.from = Some("Latchkey <no-reply@latchkey.test>".into());
    }
}
