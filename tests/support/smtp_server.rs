//! An in-process SMTP server for integration tests that records what it accepts and injects faults.
//!
//! It speaks just enough plain-text ESMTP (RFC 5321) for lettre's SMTP client: `EHLO`/`HELO`,
//! `MAIL FROM`, `RCPT TO`, `DATA` (with dot-unstuffing), `RSET`, `NOOP`, `QUIT`, and
//! `AUTH PLAIN`/`AUTH LOGIN` (any credentials are accepted). There is no TLS. Each connection is
//! served by its own tokio task, and pipelined commands are answered in order.
//!
//! ```ignore
//! let smtp = SmtpServer::start().await;
//! // ... point the app at smtp.url() and trigger an email ...
//! let mails = smtp.wait_for_messages(1, Duration::from_secs(5)).await;
//! assert_eq!(mails[0].header("Subject").as_deref(), Some("Welcome"));
//! ```

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The name the server uses for itself in its greeting and `EHLO` reply.
const SERVER_NAME: &str = "smtp.test";

/// Longest command or message line accepted, line ending included. RFC 5321 only requires 1000
/// octets; this is generous so that sloppy clients are not mistaken for broken ones.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// How often [`SmtpServer::wait_for_messages`] looks at the mailbox.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A running test SMTP server. Cloning it gives another handle to the same server.
///
/// The server runs until [`SmtpServer::shutdown`] or until the test's runtime ends; dropping the
/// handles does not stop it.
#[derive(Clone)]
pub struct SmtpServer {
    shared: Arc<Shared>,
}

/// A message the server accepted.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// The `MAIL FROM` address, without angle brackets (empty for the null sender `<>`).
    pub from: String,
    /// The accepted `RCPT TO` addresses, without angle brackets, in the order given.
    pub to: Vec<String>,
    /// The message exactly as transferred: dot-unstuffed, CRLF line endings, without the final `.`
    /// line. lettre always ends `DATA` with `\r\n.\r\n`, so a message it sends gains one trailing
    /// CRLF (an empty last line if the message already ended with one); compare bodies with
    /// `contains` or `trim_end` rather than exact equality.
    pub data: Vec<u8>,
}

/// Misbehaviour to inject; the default is a well-behaved server.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Answer `451 4.3.0 try again later` to the end of `DATA` of every nth message (counted over
    /// the server's life, 1-based, refused messages included: with 7, messages 7, 14, ... are
    /// refused and not stored).
    pub temp_fail_every_nth_message: Option<u64>,
    /// Drop every nth accepted connection (1-based, over the server's life) mid-session: the
    /// greeting and `EHLO`/`HELO` are answered normally, then the connection is closed without a
    /// reply as soon as the next command arrives, so the client sees a dropped connection.
    pub drop_every_nth_connection: Option<u64>,
    /// Recipients (compared case-insensitively) that get `550 5.1.1 mailbox unavailable` at
    /// `RCPT TO`.
    pub reject_recipients: Vec<String>,
    /// Sleep this long before answering the end of `DATA` (a slow server).
    pub delay_per_message: Option<Duration>,
    /// Greet every connection with `421 4.3.2 service not available` and close it (a server
    /// that is "down" but still listening).
    pub refuse_all: bool,
    /// Answer the end of every `DATA` with this reply instead of accepting the message, e.g.
    /// `554 5.7.1 message rejected as spam` (the message's fault, not the mailbox's).
    pub reject_data_with: Option<String>,
    /// Answer every `AUTH` with `535 5.7.8 authentication credentials invalid` (a wrong
    /// password).
    pub reject_logins: bool,
}

/// State shared by the handles, the accept loop and the sessions.
struct Shared {
    port: u16,
    /// `None` once the server has been shut down; dropping the listener frees the port.
    listener: Mutex<Option<TcpListener>>,
    /// Flips to `true` on shutdown; the accept loop and every session watch it.
    shutdown: watch::Sender<bool>,
    faults: Mutex<Faults>,
    messages: Mutex<Vec<ReceivedMail>>,
    connections_accepted: AtomicU64,
    /// Messages whose `DATA` completed, whether they were then accepted or refused.
    messages_completed: AtomicU64,
}

impl SmtpServer {
    /// Starts a server on `127.0.0.1` with a port picked by the OS.
    pub async fn start() -> SmtpServer {
        Self::start_on(0)
            .await
            .expect("could not bind the test SMTP server to 127.0.0.1:0")
    }

    /// Starts a server on `127.0.0.1:port`, e.g. to bring SMTP "back up" on the port a
    /// previous, shut down server used (see [`SmtpServer::shutdown`]).
    pub async fn start_on(port: u16) -> io::Result<SmtpServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            port,
            listener: Mutex::new(Some(listener)),
            shutdown,
            faults: Mutex::new(Faults::default()),
            messages: Mutex::new(Vec::new()),
            connections_accepted: AtomicU64::new(0),
            messages_completed: AtomicU64::new(0),
        });
        tokio::spawn(accept_loop(Arc::clone(&shared)));
        Ok(SmtpServer { shared })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// The connection URL for lettre, e.g. `smtp://127.0.0.1:2525` (plain text, no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port())
    }

    /// Replaces the injected faults. They apply to commands and connections that come later;
    /// connection-level faults are decided when a connection is accepted.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// A snapshot of the accepted messages, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.shared.messages).clone()
    }

    /// The accepted messages with `rcpt` among their envelope recipients (case-insensitive).
    pub fn messages_to(&self, rcpt: &str) -> Vec<ReceivedMail> {
        lock(&self.shared.messages)
            .iter()
            .filter(|mail| mail.to.iter().any(|to| to.eq_ignore_ascii_case(rcpt)))
            .cloned()
            .collect()
    }

    /// How many TCP connections the server has accepted, refused and dropped ones included.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections_accepted.load(Ordering::SeqCst)
    }

    /// Polls every 20 ms until at least `n` messages are stored or `timeout` passes; returns the
    /// snapshot either way (callers assert on the length).
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        wait_for(n, timeout, || self.messages()).await
    }

    /// [`SmtpServer::wait_for_messages`], counting only the messages to `rcpt`.
    pub async fn wait_for_messages_to(
        &self,
        rcpt: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<ReceivedMail> {
        wait_for(n, timeout, || self.messages_to(rcpt)).await
    }

    /// Stops the server, simulating SMTP going down. The listener is closed before this returns,
    /// so the port is free and new connections are refused; live sessions are closed by their
    /// tasks right after. Stored messages stay readable. Calling it again does nothing.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        drop(lock(&self.shared.listener).take());
    }
}

/// A local port that nothing listens on right now (bind `127.0.0.1:0`, read the port, drop the
/// listener).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("could not bind 127.0.0.1:0 to find an unused port")
        .port()
}

impl ReceivedMail {
    /// The message parsed by `mail_parser`.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(&self.data)
            .expect("the received message is not parseable as an email")
    }

    /// The decoded `text/plain` body. Panics if the message has none.
    pub fn text_body(&self) -> String {
        self.inline_body("text/plain", |part| match &part.body {
            // A part without Content-Type is text/plain (RFC 2045, section 5.2).
            PartType::Text(text)
                if part.content_type().is_none() || part.is_content_type("text", "plain") =>
            {
                Some(text.to_string())
            }
            _ => None,
        })
    }

    /// The decoded `text/html` body. Panics if the message has none.
    pub fn html_body(&self) -> String {
        self.inline_body("text/html", |part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        })
    }

    /// The raw (not decoded) value of the first top-level header called `name` (case-insensitive),
    /// unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.raw_headers()
            .into_iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// How many top-level headers are called `name` (case-insensitive).
    pub fn header_count(&self, name: &str) -> usize {
        self.raw_headers()
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .count()
    }

    /// The top-level header fields as (name, unfolded and trimmed value), in order.
    fn raw_headers(&self) -> Vec<(String, String)> {
        let text = self.data_lossy();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in text.split("\r\n") {
            if line.is_empty() {
                break; // End of the header section.
            }
            if line.starts_with([' ', '\t']) {
                // A folded continuation: unfolding removes only the CRLF before the whitespace.
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.to_owned()));
            }
        }
        for (_, value) in &mut headers {
            *value = value.trim().to_owned();
        }
        headers
    }

    /// The first part that is not an attachment and that `pick` extracts a body from.
    fn inline_body(&self, kind: &str, pick: impl Fn(&MessagePart<'_>) -> Option<String>) -> String {
        self.parsed()
            .parts
            .iter()
            .filter(|part| {
                !part
                    .content_disposition()
                    .is_some_and(|cd| cd.is_attachment())
            })
            .find_map(pick)
            .unwrap_or_else(|| panic!("the message has no {kind} part:\n{}", self.data_lossy()))
    }

    fn data_lossy(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Locks a mutex, carrying on if a panicking test poisoned it: the data stays consistent
/// because every critical section here is a single push, clone or assignment.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Polls the listener, or reports `None` once it has been closed by a shutdown.
    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<(TcpStream, SocketAddr)>>> {
        match lock(&self.listener).as_ref() {
            Some(listener) => listener.poll_accept(cx).map(Some),
            None => Poll::Ready(None),
        }
    }
}

/// Accepts connections until shutdown, serving each on its own task.
async fn accept_loop(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|down| *down) => return,
            accepted = poll_fn(|cx| shared.poll_accept(cx)) => accepted,
        };
        match accepted {
            None => return,
            Some(Ok((stream, _peer))) => {
                let number = shared.connections_accepted.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::spawn(serve_connection(Arc::clone(&shared), stream, number));
            }
            // Per-connection failures (the peer reset before accept, out of file descriptors):
            // back off briefly and keep listening, as a real server would.
            Some(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Runs one SMTP session until the client leaves or the server shuts down.
async fn serve_connection(shared: Arc<Shared>, stream: TcpStream, number: u64) {
    let mut shutdown = shared.shutdown.subscribe();
    let (reader, writer) = stream.into_split();
    let session = Session {
        shared: Arc::clone(&shared),
        reader: BufReader::new(reader),
        writer,
        greeted: false,
        transaction: None,
    };
    tokio::select! {
        _ = shutdown.wait_for(|down| *down) => {}
        // An I/O error means the client went away; there is nobody left to tell.
        _ = session.run(number) => {}
    }
}

/// What the session loop does after a command.
enum Next {
    Continue,
    Close,
}

/// The envelope collected between `MAIL FROM` and the end of `DATA`.
struct Transaction {
    from: String,
    to: Vec<String>,
}

/// One client connection.
struct Session {
    shared: Arc<Shared>,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// Whether `EHLO` or `HELO` has been answered.
    greeted: bool,
    transaction: Option<Transaction>,
}

impl Session {
    async fn run(mut self, connection_number: u64) -> io::Result<()> {
        let faults = self.shared.faults();
        if faults.refuse_all {
            return self.reply("421 4.3.2 service not available").await;
        }
        let drop_mid_session = is_nth(connection_number, faults.drop_every_nth_connection);

        self.reply(&format!("220 {SERVER_NAME} ESMTP test server ready"))
            .await?;
        while let Some(line) = self.read_line().await? {
            if drop_mid_session && self.greeted {
                return Ok(()); // Dropping the halves closes the connection without a reply.
            }
            let line = String::from_utf8_lossy(strip_line_ending(&line));
            if let Next::Close = self.handle(&line).await? {
                return Ok(());
            }
        }
        Ok(()) // The client closed the connection.
    }

    async fn handle(&mut self, line: &str) -> io::Result<Next> {
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        let arg = arg.trim();
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if arg.is_empty() => {
                self.reply("501 5.5.4 a domain is required").await?;
            }
            "EHLO" => {
                self.greeted = true;
                self.transaction = None;
                self.reply(&format!(
                    "250-{SERVER_NAME} greets {arg}\r\n\
                     250-8BITMIME\r\n\
                     250-SMTPUTF8\r\n\
                     250-AUTH PLAIN LOGIN\r\n\
                     250 PIPELINING"
                ))
                .await?;
            }
            "HELO" => {
                self.greeted = true;
                self.transaction = None;
                self.reply(&format!("250 {SERVER_NAME}")).await?;
            }
            "MAIL" => self.mail(arg).await?,
            "RCPT" => self.rcpt(arg).await?,
            "DATA" => return self.data().await,
            "RSET" => {
                self.transaction = None;
                self.reply("250 2.0.0 OK").await?;
            }
            "NOOP" => self.reply("250 2.0.0 OK").await?,
            "AUTH" => return self.auth(arg).await,
            "QUIT" => {
                self.reply("221 2.0.0 bye").await?;
                return Ok(Next::Close);
            }
            "" => self.reply("500 5.5.2 syntax error").await?,
            _ => self.reply("502 5.5.1 command not implemented").await?,
        }
        Ok(Next::Continue)
    }

    async fn mail(&mut self, arg: &str) -> io::Result<()> {
        if !self.greeted {
            return self.reply("503 5.5.1 send EHLO first").await;
        }
        if self.transaction.is_some() {
            return self.reply("503 5.5.1 nested MAIL command").await;
        }
        // Parameters such as BODY=8BITMIME and SMTPUTF8 are accepted and ignored.
        let Some(from) = parse_path(arg, "FROM:") else {
            return self.reply("501 5.5.4 syntax: MAIL FROM:<address>").await;
        };
        self.transaction = Some(Transaction {
            from,
            to: Vec::new(),
        });
        self.reply("250 2.1.0 OK").await
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<()> {
        let Some(transaction) = self.transaction.as_mut() else {
            return self.reply("503 5.5.1 send MAIL first").await;
        };
        let Some(to) = parse_path(arg, "TO:") else {
            return self.reply("501 5.5.4 syntax: RCPT TO:<address>").await;
        };
        let rejected = lock(&self.shared.faults)
            .reject_recipients
            .iter()
            .any(|bad| bad.eq_ignore_ascii_case(&to));
        if rejected {
            return self.reply("550 5.1.1 mailbox unavailable").await;
        }
        transaction.to.push(to);
        self.reply("250 2.1.5 OK").await
    }

    async fn data(&mut self) -> io::Result<Next> {
        let Some(transaction) = self.transaction.take_if(|t| !t.to.is_empty()) else {
            let why = if self.transaction.is_some() {
                "RCPT"
            } else {
                "MAIL"
            };
            self.reply(&format!("503 5.5.1 send {why} first")).await?;
            return Ok(Next::Continue);
        };
        self.reply("354 end data with <CR><LF>.<CR><LF>").await?;
        let Some(data) = self.read_data().await? else {
            return Ok(Next::Close); // The client hung up mid-message; nothing is stored.
        };

        let number = self
            .shared
            .messages_completed
            .fetch_add(1, Ordering::SeqCst)
            + 1;
        let faults = self.shared.faults();
        if let Some(delay) = faults.delay_per_message {
            tokio::time::sleep(delay).await;
        }
        if let Some(reply) = &faults.reject_data_with {
            self.reply(reply).await?;
        } else if is_nth(number, faults.temp_fail_every_nth_message) {
            self.reply("451 4.3.0 try again later").await?;
        } else {
            lock(&self.shared.messages).push(ReceivedMail {
                from: transaction.from,
                to: transaction.to,
                data,
            });
            self.reply(&format!("250 2.0.0 OK queued as {number}"))
                .await?;
        }
        Ok(Next::Continue)
    }

    /// Reads message lines up to the lone `.`, undoing dot-stuffing and normalising line endings
    /// to CRLF. Returns `None` if the client disconnects first.
    async fn read_data(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut data = Vec::new();
        while let Some(line) = self.read_line().await? {
            let content = strip_line_ending(&line);
            if content == b"." {
                return Ok(Some(data));
            }
            data.extend_from_slice(content.strip_prefix(b".").unwrap_or(content));
            data.extend_from_slice(b"\r\n");
        }
        Ok(None)
    }

    /// Accepts `AUTH PLAIN` and `AUTH LOGIN` with any credentials (unless the faults
    /// say to refuse every login).
    async fn auth(&mut self, arg: &str) -> io::Result<Next> {
        if !self.greeted {
            self.reply("503 5.5.1 send EHLO first").await?;
            return Ok(Next::Continue);
        }
        let (mechanism, initial_response) = arg.split_once(' ').unwrap_or((arg, ""));
        // The base64 challenges that follow are "Username:" and "Password:".
        let challenges: &[&str] = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" if initial_response.is_empty() => &["334 "],
            "PLAIN" => &[],
            "LOGIN" if initial_response.is_empty() => &["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"],
            "LOGIN" => &["334 UGFzc3dvcmQ6"],
            _ => {
                self.reply("504 5.5.4 unrecognised authentication type")
                    .await?;
                return Ok(Next::Continue);
            }
        };
        for challenge in challenges {
            self.reply(challenge).await?;
            let Some(response) = self.read_line().await? else {
                return Ok(Next::Close);
            };
            if strip_line_ending(&response) == b"*" {
                self.reply("501 5.7.0 authentication cancelled").await?;
                return Ok(Next::Continue);
            }
        }
        if self.shared.faults().reject_logins {
            self.reply("535 5.7.8 authentication credentials invalid")
                .await?;
            return Ok(Next::Continue);
        }
        self.reply("235 2.7.0 authentication successful").await?;
        Ok(Next::Continue)
    }

    /// Sends a reply; `text` may hold several CRLF-separated lines but no final line ending.
    async fn reply(&mut self, text: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(text.len() + 2);
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.writer.write_all(&bytes).await?;
        self.writer.flush().await
    }

    /// Reads one line including its ending; `None` at end of input (a trailing partial line is
    /// discarded: a client that hangs up mid-command did not send a command).
    async fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        (&mut self.reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut line)
            .await?;
        if line.ends_with(b"\n") {
            Ok(Some(line))
        } else if line.len() as u64 == MAX_LINE_BYTES {
            self.reply("500 5.5.2 line too long").await?;
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "SMTP line too long",
            ))
        } else {
            Ok(None)
        }
    }
}

/// Whether `count` (1-based) hits an "every nth" fault; `None` and `Some(0)` never do.
fn is_nth(count: u64, every: Option<u64>) -> bool {
    every.is_some_and(|n| n > 0 && count.is_multiple_of(n))
}

/// Extracts the address from `FROM:<address> params` or `TO:<address> params` (keyword
/// case-insensitive, spaces allowed after the colon).
fn parse_path(arg: &str, keyword: &str) -> Option<String> {
    let (head, rest) = arg.split_at_checked(keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let (address, _parameters) = rest.trim_start().strip_prefix('<')?.split_once('>')?;
    Some(address.to_owned())
}

/// The line without its `\n` or `\r\n`.
fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Polls `snapshot` every 20 ms until it holds at least `n` messages or `timeout` passes;
/// returns the last snapshot either way.
async fn wait_for(
    n: usize,
    timeout: Duration,
    snapshot: impl Fn() -> Vec<ReceivedMail>,
) -> Vec<ReceivedMail> {
    let deadline = Instant::now() + timeout;
    loop {
        let messages = snapshot();
        if messages.len() >= n || Instant::now() >= deadline {
            return messages;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
