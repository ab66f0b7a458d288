//! A fault-injecting HTTP proxy between the SDK and moto, on loopback: it forwards every
//! request, except that some AWS Organizations policy writes are answered
//! `400 TooManyRequestsException` or `400 ThrottlingException` (Organizations' JSON error
//! shape) and some connections are dropped before the request is forwarded. Which ones is
//! fixed by [`Faults`], so a test is repeatable.
//!
//! One thread accepts, one thread serves each connection; every answer closes its connection
//! (`Connection: close`), so each request is read and forwarded on its own.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which policy writes go wrong: the n-th write the proxy sees (counting from 1, retries
/// included) is dropped when `n % drop_every == 0`, else throttled when
/// `n % throttle_every == 0` (0: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// Throttle every this many writes.
    pub throttle_every: u64,
    /// Drop the connection of every this many writes.
    pub drop_every: u64,
}

/// What the proxy did, by operation (`UpdatePolicy`, …; reads under their own names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Requests passed to moto.
    pub forwarded: BTreeMap<String, u64>,
    /// Requests answered as throttled.
    pub throttled: BTreeMap<String, u64>,
    /// Connections dropped.
    pub dropped: BTreeMap<String, u64>,
    /// Requests the responder answered.
    pub answered: BTreeMap<String, u64>,
}

/// The proxy, listening on `127.0.0.1:PORT` until dropped.
#[derive(Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`: the endpoint the SDK is given.
    pub endpoint: String,
    port: u16,
    stats: Arc<Mutex<ProxyStats>>,
    stop: Arc<AtomicBool>,
}

use super::POLICY_WRITES as WRITES;

/// Answers some requests itself instead of forwarding them: given the operation (the
/// `X-Amz-Target` suffix, or the query protocol's `Action`) and the request body, the whole
/// HTTP response to send, or `None` to forward.
pub type Responder = Arc<dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync>;

struct Shared {
    upstream: String,
    faults: Faults,
    writes: Mutex<u64>,
    stats: Arc<Mutex<ProxyStats>>,
    responder: Option<Responder>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`127.0.0.1:PORT`, moto) with `faults`.
    ///
    /// # Errors
    /// No loopback port could be had.
    pub fn start(upstream: &str, faults: Faults) -> std::io::Result<FaultProxy> {
        FaultProxy::start_with(upstream, faults, None)
    }

    /// Starts a proxy that lets `responder` answer what it will (an operation moto lacks)
    /// and forwards the rest as [`FaultProxy::start`] does.
    ///
    /// # Errors
    /// No loopback port could be had.
    pub fn start_with(
        upstream: &str,
        faults: Faults,
        responder: Option<Responder>,
    ) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stats = Arc::new(Mutex::new(ProxyStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            upstream: upstream
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            faults,
            writes: Mutex::new(0),
            stats: Arc::clone(&stats),
            responder,
        });
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve(conn, &shared);
                });
            }
        });
        Ok(FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            stats,
            stop,
        })
    }

    /// What it did so far.
    pub fn stats(&self) -> ProxyStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A request or response: its head (start line and headers, without the blank line) and body.
struct Message {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The bytes to send, with `Connection: close` in place of any connection header.
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, line) in self.head.iter().enumerate() {
            if i > 0 {
                let name = line.split(':').next().unwrap_or_default().trim();
                if name.eq_ignore_ascii_case("connection")
                    || name.eq_ignore_ascii_case("keep-alive")
                {
                    continue;
                }
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads one HTTP/1.1 message (a body of `Content-Length` bytes, or up to the end when the
/// length is not given and `to_end`).
fn read_message(reader: &mut impl BufRead, to_end: bool) -> std::io::Result<Option<Message>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            if head.is_empty() {
                continue;
            }
            break;
        }
        head.push(line);
    }
    let mut msg = Message {
        head,
        body: Vec::new(),
    };
    match msg
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) => {
            msg.body.resize(n, 0);
            reader.read_exact(&mut msg.body)?;
        }
        None if to_end => {
            reader.read_to_end(&mut msg.body)?;
        }
        None => {}
    }
    Ok(Some(msg))
}

/// The `Action` of a query-protocol request body (`Action=GetUser&Version=...`).
fn query_action(body: &[u8]) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .map(str::to_owned)
}

fn throttle_answer(shape: u64) -> Vec<u8> {
    let code = if shape % 2 == 0 {
        "TooManyRequestsException"
    } else {
        "ThrottlingException"
    };
    let body = format!(
        r#"{{"__type":"{code}","Message":"AWS Organizations can't complete your request because another request is already in progress. Try again later."}}"#
    );
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: {code}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let Some(request) = read_message(&mut reader, false)? else {
        return Ok(());
    };
    let op = request
        .header("x-amz-target")
        .and_then(|t| t.rsplit('.').next())
        .map(str::to_owned)
        .or_else(|| query_action(&request.body))
        .unwrap_or_else(|| "other".to_owned());
    let count = |map: fn(&mut ProxyStats) -> &mut BTreeMap<String, u64>| {
        if let Ok(mut s) = shared.stats.lock() {
            *map(&mut s).entry(op.clone()).or_default() += 1;
        }
    };
    if WRITES.contains(&op.as_str()) {
        let n = {
            let mut w = shared
                .writes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *w += 1;
            *w
        };
        let f = shared.faults;
        if f.drop_every > 0 && n % f.drop_every == 0 {
            count(|s| &mut s.dropped);
            // Close without an answer: the client sees the connection end mid-request.
            let _ = conn.shutdown(Shutdown::Both);
            return Ok(());
        }
        if f.throttle_every > 0 && n % f.throttle_every == 0 {
            count(|s| &mut s.throttled);
            let mut out = &conn;
            out.write_all(&throttle_answer(n / f.throttle_every))?;
            let _ = conn.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
    if let Some(answer) = shared
        .responder
        .as_ref()
        .and_then(|r| r(&op, &request.body))
    {
        count(|s| &mut s.answered);
        let mut out = &conn;
        out.write_all(&answer)?;
        let _ = conn.shutdown(Shutdown::Both);
        return Ok(());
    }
    count(|s| &mut s.forwarded);
    let mut upstream = TcpStream::connect(&shared.upstream)?;
    upstream.set_read_timeout(Some(Duration::from_secs(60)))?;
    upstream.write_all(&request.bytes())?;
    let mut up_reader = BufReader::new(upstream);
    let Some(response) = read_message(&mut up_reader, true)? else {
        let _ = conn.shutdown(Shutdown::Both);
        return Ok(());
    };
    let mut out = &conn;
    out.write_all(&response.bytes())?;
    let _ = conn.shutdown(Shutdown::Both);
    Ok(())
}
