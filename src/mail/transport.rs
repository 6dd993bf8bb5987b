//! Delivering a finished message: over pooled SMTP connections, or into the outbox folder.
//!
//! lettre 0.11.23 opens its SMTP sockets without TCP_NODELAY, so every message waits out
//! a 40 ms delayed ACK (~22 messages a second a connection). This module opens the
//! sockets itself with nodelay set, hands them to lettre's connection code, and keeps a
//! small pool of them: one mailer, reused for every message.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::Context;
use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::{ClientId, Extension};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};

use crate::config::{Settings, SmtpSettings, SmtpTls};
use crate::mail::Email;
use crate::metrics::ReplyClass;

/// Why a message was not delivered, split by what the sender should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: a 4xx reply, a refused or dropped connection, a timeout,
    /// and anything that goes wrong before the server has seen the message.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying will not help: a 5xx reply to this message (the server's answer is
    /// kept). `bad_mailbox` when the reply says the recipient's mailbox is the problem
    /// (it counts as a hard bounce), not the message or the sender.
    #[error("permanent failure: {reply}")]
    Permanent { reply: String, bad_mailbox: bool },
}

impl SendError {
    /// Classifies a failure while sending one message on an open connection.
    fn from_smtp(error: lettre::transport::smtp::Error) -> SendError {
        let reply = error.to_string();
        if error.is_permanent() {
            let bad_mailbox = mailbox_problem(error.status().map(u16::from), &reply);
            SendError::Permanent { reply, bad_mailbox }
        } else if error.is_client() {
            SendError::Permanent {
                reply,
                bad_mailbox: false,
            }
        } else {
            SendError::Transient(reply)
        }
    }
}

impl SendError {
    /// The class of the SMTP server's answer this failure was; `None` when no server
    /// answered the message itself (it could not be built, or the client refused it).
    /// Read from the words [`SendError::from_smtp`] keeps: lettre writes a reply as
    /// `transient error (451): …` or `permanent error (550): …`; anything else that is
    /// temporary (refused, dropped or timed-out connections, a failed greeting or
    /// login) had no answer to the message.
    pub fn reply_class(&self) -> Option<ReplyClass> {
        match self {
            SendError::Transient(reason) if reason.starts_with("transient error (") => {
                Some(ReplyClass::TemporaryFailure)
            }
            SendError::Transient(_) => Some(ReplyClass::ConnectionError),
            SendError::Permanent { reply, .. } if reply.starts_with("permanent error (") => {
                Some(ReplyClass::PermanentFailure)
            }
            SendError::Permanent { .. } => None,
        }
    }
}

/// Whether a 5xx reply blames the recipient's mailbox: an enhanced status 5.1.x (bad
/// address) or 5.2.x (mailbox), or, without one, the codes 550, 551 and 553.
fn mailbox_problem(code: Option<u16>, reply: &str) -> bool {
    let enhanced = reply.split_whitespace().find(|word| {
        let parts: Vec<&str> = word.trim_end_matches([',', ';', ':']).split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    match enhanced {
        Some(status) => status.starts_with("5.1.") || status.starts_with("5.2."),
        None => matches!(code, Some(550 | 551 | 553)),
    }
}

/// The one mailer of the app.
pub struct Mailer {
    transport: Transport,
    identity: Identity,
    pace: Option<Pacer>,
}

enum Transport {
    Smtp(Box<SmtpPool>),
    /// The folder, and how many messages this mailer has written to it (part of each
    /// file name, so names sort in sending order).
    Outbox(PathBuf, AtomicU64),
}

impl Mailer {
    /// Builds the mailer `SMTP_URL` asks for, or the outbox folder when it is unset.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Mailer> {
        let transport = match &settings.smtp {
            Some(smtp) => Transport::Smtp(Box::new(SmtpPool::new(
                smtp.clone(),
                settings.send_concurrency,
            )?)),
            None => {
                std::fs::create_dir_all(&settings.outbox_dir).with_context(|| {
                    format!(
                        "could not create MAIL_OUTBOX_DIR `{}`",
                        settings.outbox_dir.display()
                    )
                })?;
                Transport::Outbox(settings.outbox_dir.clone(), AtomicU64::new(0))
            }
        };
        Ok(Mailer {
            transport,
            identity: Identity {
                from: settings.mail_from.clone(),
                dkim: settings
                    .dkim
                    .as_ref()
                    .map(super::dkim::Signer::load)
                    .transpose()?,
            },
            pace: settings.send_rate_per_sec.map(Pacer::new),
        })
    }

    /// A sentence for the start-up log saying where mail goes.
    pub fn describe(&self) -> String {
        let signing = match &self.identity.dkim {
            Some(signer) => format!("; DKIM-signed: {}", signer.describe()),
            None => String::new(),
        };
        let route = match &self.transport {
            Transport::Smtp(pool) => format!(
                "mail goes over SMTP to {}:{} ({}, up to {} connections)",
                pool.settings.host,
                pool.settings.port,
                pool.settings.tls.describe(),
                pool.max_connections
            ),
            Transport::Outbox(dir, _) => format!(
                "SMTP_URL is not set: mail is written as .eml files to {} instead of being sent",
                std::fs::canonicalize(dir)
                    .unwrap_or_else(|_| dir.clone())
                    .display()
            ),
        };
        format!("{route}{signing}")
    }

    /// Opens one SMTP session as sending would (TLS and login included), asks what the
    /// server offers and closes it; `None` when mail goes to the outbox folder.
    pub async fn probe(&self, limit: Duration) -> Option<Result<ServerReport, ConnectFailure>> {
        match &self.transport {
            Transport::Smtp(pool) => Some(pool.probe(limit).await),
            Transport::Outbox(..) => None,
        }
    }

    /// Whether mail goes to an SMTP server (not the outbox folder).
    pub fn uses_smtp(&self) -> bool {
        matches!(self.transport, Transport::Smtp(_))
    }

    /// Delivers one message from `MAIL_FROM` to its recipient.
    pub async fn send(&self, email: &Email) -> Result<(), SendError> {
        if let Some(pacer) = &self.pace {
            pacer.wait_turn().await;
        }
        match &self.transport {
            Transport::Smtp(pool) => pool.send(email, &self.identity).await,
            Transport::Outbox(dir, written) => {
                let (_, raw) = self.identity.format(email, true)?;
                let sequence = written.fetch_add(1, Ordering::Relaxed);
                write_to_outbox(dir, sequence, &email.message_id, &raw).await
            }
        }
    }

    /// Says goodbye to SMTP connections idle for a while, so servers don't cut them.
    pub async fn close_idle(&self) {
        if let Transport::Smtp(pool) = &self.transport {
            pool.close_idle(Duration::from_secs(20)).await;
        }
    }
}

/// Who our mail is from, and how it is signed.
struct Identity {
    from: Mailbox,
    dkim: Option<super::dkim::Signer>,
}

impl Identity {
    /// Formats `email` from `MAIL_FROM`, DKIM-signed when configured.
    fn format(&self, email: &Email, eight_bit: bool) -> Result<(Envelope, Vec<u8>), SendError> {
        email
            .format(&self.from, eight_bit, self.dkim.as_ref())
            .map_err(|e| SendError::Permanent {
                reply: format!("could not build the message: {e:#}"),
                bad_mailbox: false,
            })
    }
}

/// Writes the message as `<sent-at>-<process>-<sequence>-<message-id>.eml`, so that
/// `ls` lists the outbox in sending order: the UTC time to the microsecond first, then
/// this process's id and the mailer's own counter (two messages of one microsecond keep
/// their order, and two processes or instances writing the same folder never pick the
/// same name). A resend of the same message is a second file, as a second copy in a
/// real mailbox would be. Written under a temporary name and renamed, so a reader never
/// sees half a message.
async fn write_to_outbox(
    dir: &std::path::Path,
    sequence: u64,
    message_id: &str,
    raw: &[u8],
) -> Result<(), SendError> {
    let stem: String = message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = outbox_file_name(chrono::Utc::now(), sequence, &stem);
    let path = dir.join(&name);
    let temp = dir.join(format!(".{name}.tmp"));
    let write = async {
        tokio::fs::write(&temp, raw).await?;
        tokio::fs::rename(&temp, &path).await
    };
    write
        .await
        .map_err(|e| SendError::Transient(format!("could not write {}: {e}", path.display())))
}

/// The outbox name of a message written at `at`: fixed-width fields, so names sort as
/// the messages were written.
fn outbox_file_name(at: chrono::DateTime<chrono::Utc>, sequence: u64, stem: &str) -> String {
    format!(
        "{}-{:010}-{sequence:012}-{stem}.eml",
        at.format("%Y%m%dT%H%M%S%.6fZ"),
        std::process::id()
    )
}

/// Spaces messages out to honour `SEND_RATE_PER_SEC`.
struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    fn new(per_second: u32) -> Pacer {
        Pacer {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait_turn(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// A bounded pool of open SMTP connections.
struct SmtpPool {
    settings: SmtpSettings,
    hello: ClientId,
    max_connections: usize,
    permits: Semaphore,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// For connecting, greeting, TLS and login.
    connect_timeout: Duration,
    /// For one message, the wait for the server's verdict after the data included
    /// (RFC 5321 allows it 10 minutes; content filters can be slow).
    send_timeout: Duration,
    tls_config: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
}

impl SmtpPool {
    fn new(settings: SmtpSettings, max_connections: usize) -> anyhow::Result<SmtpPool> {
        let tls_config = (settings.tls == SmtpTls::Implicit).then(|| {
            let roots = tokio_rustls::rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            Arc::new(
                tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
                    tokio_rustls::rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
            )
        });
        Ok(SmtpPool {
            settings,
            hello: ClientId::default(),
            max_connections,
            permits: Semaphore::new(max_connections),
            idle: Mutex::new(Vec::new()),
            connect_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(5 * 60),
            tls_config,
        })
    }

    async fn send(&self, email: &Email, identity: &Identity) -> Result<(), SendError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the pool's semaphore is never closed");
        // A pooled connection may have been closed by the server while it sat idle; that
        // shows only when we use it, as a dropped connection. Such a message never
        // reached the server, so it gets one fresh connection at once. (A connection
        // dropped after the data went out is indistinguishable: that message may go
        // twice, which is the in-flight case every mail system has.)
        if let Some(mut conn) = self.take_idle().await {
            match self.send_on(&mut conn, email, identity).await {
                Ok(()) => {
                    self.put_back(conn).await;
                    return Ok(());
                }
                Err(Attempt::Settled(error)) => return Err(error),
                Err(Attempt::Dropped(_)) => {}
            }
        }
        let mut conn = self.connect().await?;
        match self.send_on(&mut conn, email, identity).await {
            Ok(()) => {
                self.put_back(conn).await;
                Ok(())
            }
            Err(Attempt::Settled(error) | Attempt::Dropped(error)) => Err(error),
        }
    }

    /// Formats for this server (8bit only where it says 8BITMIME) and sends.
    async fn send_on(
        &self,
        conn: &mut AsyncSmtpConnection,
        email: &Email,
        identity: &Identity,
    ) -> Result<(), Attempt> {
        let eight_bit = conn.server_info().supports_feature(Extension::EightBitMime);
        let (envelope, raw) = identity
            .format(email, eight_bit)
            .map_err(Attempt::Settled)?;
        match tokio::time::timeout(self.send_timeout, conn.send(&envelope, &raw)).await {
            Ok(Ok(_)) => Ok(()),
            // Only an SMTP reply code means the connection itself was fine.
            Ok(Err(e)) if e.status().is_some() => Err(Attempt::Settled(SendError::from_smtp(e))),
            Ok(Err(e)) => Err(Attempt::Dropped(SendError::from_smtp(e))),
            // A server this slow may still accept the message: no resend at once, the
            // queue retries it later.
            Err(_) => {
                conn.abort().await;
                Err(Attempt::Settled(SendError::Transient(format!(
                    "the SMTP server did not answer within {} s",
                    self.send_timeout.as_secs()
                ))))
            }
        }
    }

    async fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().await;
        while let Some((conn, _)) = idle.pop() {
            if !conn.has_broken() {
                return Some(conn);
            }
        }
        None
    }

    async fn put_back(&self, conn: AsyncSmtpConnection) {
        if !conn.has_broken() {
            self.idle.lock().await.push((conn, Instant::now()));
        }
    }

    async fn close_idle(&self, older_than: Duration) {
        let stale: Vec<AsyncSmtpConnection> = {
            let mut idle = self.idle.lock().await;
            let (stale, fresh) = idle
                .drain(..)
                .partition(|(_, since)| since.elapsed() >= older_than);
            *idle = fresh;
            stale.into_iter().map(|(conn, _)| conn).collect()
        };
        for mut conn in stale {
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
        }
    }

    /// A failure here comes before the server has seen the message (connecting,
    /// greeting, TLS, login): never the message's fault nor the recipient's, so always
    /// worth a retry; a 554 greeting from a relay that blocks us must not fail the list.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        self.connect_within(self.connect_timeout)
            .await
            .map_err(|failure| SendError::Transient(failure.to_string()))
    }

    /// Connects, greets, secures and logs in as `SMTP_URL` says, within `limit`.
    async fn connect_within(&self, limit: Duration) -> Result<AsyncSmtpConnection, ConnectFailure> {
        let connect = async {
            let SmtpSettings {
                host,
                port,
                tls,
                credentials,
            } = &self.settings;
            let place = format!("{host}:{port}");
            let tcp = TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(|e| ConnectFailure::Unreachable(place.clone(), e))?;
            tcp.set_nodelay(true)
                .map_err(|e| ConnectFailure::Unreachable(place.clone(), e))?;
            let stream: Box<dyn AsyncTokioStream> = match &self.tls_config {
                Some(config) => Box::new(self.implicit_tls(tcp, config.clone()).await?),
                None => Box::new(tcp),
            };
            let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
                .await
                .map_err(|e| ConnectFailure::Greeting(place.clone(), e.to_string()))?;
            let wants_starttls = matches!(tls, SmtpTls::Required | SmtpTls::Opportunistic);
            if wants_starttls && conn.can_starttls() {
                let params = TlsParameters::new(host.clone())
                    .map_err(|e| ConnectFailure::Tls(place.clone(), e.to_string()))?;
                conn.starttls(params, &self.hello)
                    .await
                    .map_err(|e| ConnectFailure::Tls(place.clone(), e.to_string()))?;
            } else if *tls == SmtpTls::Required {
                conn.abort().await;
                return Err(ConnectFailure::NoStartTls(place));
            }
            if let Some((user, password)) = credentials {
                if !conn.is_encrypted() && *tls != SmtpTls::None {
                    // STARTTLS was offered no more (stripped on the way?): the password
                    // must not go out in clear. `tls=none` opts out knowingly.
                    conn.abort().await;
                    return Err(ConnectFailure::ClearPassword(place));
                }
                conn.auth(
                    &[Mechanism::Plain, Mechanism::Login],
                    &Credentials::new(user.clone(), password.clone()),
                )
                .await
                .map_err(|e| ConnectFailure::Login(place.clone(), user.clone(), e.to_string()))?;
            }
            Ok(conn)
        };
        tokio::time::timeout(limit, connect)
            .await
            .unwrap_or_else(|_| {
                Err(ConnectFailure::TimedOut(
                    format!("{}:{}", self.settings.host, self.settings.port),
                    limit,
                ))
            })
    }

    /// Connects as for sending, asks the server what it offers, and says goodbye.
    async fn probe(&self, limit: Duration) -> Result<ServerReport, ConnectFailure> {
        let mut conn = self.connect_within(limit).await?;
        let place = format!("{}:{}", self.settings.host, self.settings.port);
        // lettre keeps only some of what EHLO lists (not SIZE, nor mechanisms it
        // lacks); ask again and read the lines ourselves.
        let ehlo = tokio::time::timeout(
            limit,
            conn.command(lettre::transport::smtp::commands::Ehlo::new(
                self.hello.clone(),
            )),
        )
        .await
        .map_err(|_| ConnectFailure::TimedOut(place.clone(), limit))?
        .map_err(|e| ConnectFailure::Greeting(place.clone(), e.to_string()))?;
        let lines: Vec<String> = ehlo.message().map(str::to_owned).collect();
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
        let keyword = |line: &String| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase()
        };
        let offers = |name: &str| lines.iter().any(|line| keyword(line) == name);
        let encryption = match (self.settings.tls, conn.is_encrypted()) {
            (SmtpTls::Implicit, _) => "TLS from the first byte".to_owned(),
            (_, true) => "STARTTLS".to_owned(),
            (_, false) if offers("STARTTLS") => {
                "none (the server offers STARTTLS; SMTP_URL says tls=none)".to_owned()
            }
            (_, false) => "none (the server offers no STARTTLS)".to_owned(),
        };
        Ok(ServerReport {
            name: conn.server_info().name().to_owned(),
            place,
            encryption,
            eight_bit_mime: offers("8BITMIME"),
            smtp_utf8: offers("SMTPUTF8"),
            size_limit: lines
                .iter()
                .find(|line| keyword(line) == "SIZE")
                .map(|line| {
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0)
                }),
            auth: lines
                .iter()
                .filter(|line| keyword(line) == "AUTH")
                .flat_map(|line| line.split_whitespace().skip(1).map(str::to_owned))
                .collect(),
            logged_in: self.settings.credentials.is_some(),
        })
    }

    async fn implicit_tls(
        &self,
        tcp: TcpStream,
        config: Arc<tokio_rustls::rustls::ClientConfig>,
    ) -> Result<TlsTcpStream, ConnectFailure> {
        let name =
            tokio_rustls::rustls::pki_types::ServerName::try_from(self.settings.host.clone())
                .map_err(|e| ConnectFailure::Tls(self.settings.host.clone(), e.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| {
                ConnectFailure::Tls(
                    format!("{}:{}", self.settings.host, self.settings.port),
                    e.to_string(),
                )
            })?;
        Ok(TlsTcpStream(stream))
    }
}

/// Why no SMTP session could be opened, in words an admin can act on.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFailure {
    #[error("could not connect to {0}: {reason}", reason = unreachable_reason(.1))]
    Unreachable(String, std::io::Error),
    #[error("{0} did not complete the connection within {secs} s", secs = .1.as_secs())]
    TimedOut(String, Duration),
    #[error("{0} refused the session: {1}")]
    Greeting(String, String),
    #[error("TLS with {0} failed{hint}: {1}", hint = certificate_hint(.1))]
    Tls(String, String),
    #[error("{0} does not offer STARTTLS, and SMTP_URL says tls=required")]
    NoStartTls(String),
    #[error(
        "{0} offers no encryption; refusing to send the SMTP password in clear (use tls=none to allow it)"
    )]
    ClearPassword(String),
    #[error(
        "{0} refused the login of `{1}` ({2}); check the user name and password in SMTP_URL (special characters percent-encoded)"
    )]
    Login(String, String, String),
}

fn unreachable_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            "the connection was refused (nothing listens on that port, or a firewall says no)"
                .to_owned()
        }
        _ => format!("{error} (is the host name right, and the host reachable from here?)"),
    }
}

fn certificate_hint(error: &str) -> &'static str {
    if error.to_ascii_lowercase().contains("certificate") {
        " because of its certificate (is it valid, and does it name the host in SMTP_URL?)"
    } else {
        ""
    }
}

/// What an SMTP server offers, as a probe found it.
#[derive(Debug, Clone)]
pub struct ServerReport {
    /// The name the server gives itself.
    pub name: String,
    /// `host:port`.
    pub place: String,
    pub encryption: String,
    pub eight_bit_mime: bool,
    pub smtp_utf8: bool,
    /// `SIZE`: the largest message it takes, in bytes (0: no stated limit).
    pub size_limit: Option<u64>,
    /// The `AUTH` mechanisms it lists.
    pub auth: Vec<String>,
    /// Whether we logged in (SMTP_URL has credentials) and it accepted.
    pub logged_in: bool,
}

impl ServerReport {
    /// One line, for the start-up log.
    pub fn summary(&self) -> String {
        let mut offers = Vec::new();
        if self.eight_bit_mime {
            offers.push("8BITMIME".to_owned());
        }
        if self.smtp_utf8 {
            offers.push("SMTPUTF8".to_owned());
        }
        if let Some(size) = self.size_limit {
            offers.push(match size {
                0 => "SIZE (no limit stated)".to_owned(),
                n => format!("SIZE {}", crate::limits::human_bytes(n as usize)),
            });
        }
        if !self.auth.is_empty() {
            offers.push(format!("AUTH {}", self.auth.join(" ")));
        }
        format!(
            "the SMTP server {} ({}) answered; encryption: {}; it offers {}{}",
            self.place,
            self.name,
            self.encryption,
            if offers.is_empty() {
                "no extensions".to_owned()
            } else {
                offers.join(", ")
            },
            if self.logged_in {
                "; login accepted"
            } else {
                ""
            }
        )
    }
}

/// How an attempt on one connection failed.
enum Attempt {
    /// Done for now: the server answered with an error, took too long, or the message
    /// could not be built.
    Settled(SendError),
    /// The connection dropped without an answer.
    Dropped(SendError),
}

/// An implicit-TLS stream over a nodelay TCP socket, in the shape lettre accepts.
#[derive(Debug)]
struct TlsTcpStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsTcpStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for TlsTcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::mailbox_problem;

    #[test]
    fn only_replies_that_blame_the_mailbox_count_as_bounces() {
        assert!(mailbox_problem(
            Some(550),
            "permanent error (550): 5.1.1 no such user"
        ));
        assert!(mailbox_problem(
            Some(552),
            "permanent error (552): 5.2.2 mailbox full"
        ));
        assert!(mailbox_problem(
            Some(550),
            "permanent error (550): mailbox unavailable"
        ));
        assert!(!mailbox_problem(
            Some(554),
            "permanent error (554): 5.7.1 message rejected as spam"
        ));
        assert!(!mailbox_problem(
            Some(550),
            "permanent error (550): 5.4.5 daily sending quota exceeded"
        ));
        assert!(!mailbox_problem(
            Some(554),
            "permanent error (554): transaction failed"
        ));
    }
}
