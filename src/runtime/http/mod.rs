//! The HTTP server: hyper 1 (HTTP/1.1, server only) on the node's own
//! smol executor, serving a [`Service`]: a main node's JSON API under
//! `/api/v1/`, Prometheus `/metrics` ([`api`] answers both; [`tx`] the
//! transaction routes, the forger table and the mempool, reaching the core
//! thread through a bounded [`link`], with submissions rate-limited per
//! address by [`ratelimit`]; [`reads`] the paged and proven reads; [`sse`]
//! the event stream; [`explorer`] the HTML pages), or the forging
//! appliance's `/metrics` alone ([`appliance`], `goodwill forge
//! --metrics-listen`).
//!
//! Bounded against a hostile client: at most
//! [`HttpLimits::max_connections`] connections, at most
//! [`HttpLimits::max_per_ip`] of them from one address (one more is
//! answered 503 and closed), request headers of at most [`HttpLimits::header_bytes`] (431),
//! a body of at most [`HttpLimits::body_bytes`] (413), and a connection that
//! sends nothing for [`HttpLimits::idle_ms`] — no request, no byte of its
//! headers or body — is closed, so a slow or silent client holds a place
//! for that long at most. Store reads run on smol's blocking pool from
//! snapshots, never through the core thread. A refusal is RFC 9457 problem
//! details JSON. What each route answers: docs/http.md.

pub mod api;
pub mod appliance;
pub mod explorer;
pub mod link;
pub mod mesh;
#[cfg(test)]
mod openapi;
pub mod ratelimit;
pub mod reads;
pub mod sse;
pub mod tx;
pub mod txjson;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::Response;
use smol::net::{TcpListener, TcpStream};

pub use api::{Api, Figures, Reply, Request};

/// A response's body: a whole answer, or an event stream ([`sse`]).
pub type Body = Either<Full<Bytes>, sse::EventBody>;

/// The bounds of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one IP address, so that one client
    /// cannot take every place; one more is answered 503 and closed.
    pub max_per_ip: usize,
    /// Bytes of one request's line and headers (431 past it).
    pub header_bytes: usize,
    /// Bytes of one request's body (413 past it).
    pub body_bytes: usize,
    /// A connection silent this long (ms) is closed; a request's headers,
    /// and its body, must each arrive within it.
    pub idle_ms: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 64,
            max_per_ip: 16,
            header_bytes: 16 * 1024,
            // A contract deploy's JSON: 64 KiB of code as hex is 128 KiB.
            body_bytes: 160 * 1024,
            idle_ms: 10_000,
        }
    }
}

/// Where and how a main node serves HTTP (`--http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Its bounds.
    pub limits: HttpLimits,
}

/// Why the HTTP server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The address cannot be listened on (taken, not this machine's…).
    #[error(
        "--http {addr}: {source} (several nodes on one machine: give each its own --http port, or --http off)"
    )]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
}

/// What a server answers: the routes behind it, and where it counts its
/// connections and requests. The connection handling, bounds and problem
/// details of a refusal are the server's, the same for every service.
pub trait Service: Send + Sync + 'static {
    /// Answers one request, its body read under the bounds (may block on
    /// store reads: the server runs it on smol's blocking pool). An
    /// unknown path is a 404 problem.
    fn answer(&self, req: &Request<'_>) -> Reply;
    /// Where the server counts connections open, requests and refusals.
    fn figures(&self) -> &Figures;
    /// A main node's API, whose event stream and explorer pages the
    /// server answers itself (a stream, and pages with a query); none for
    /// the appliance.
    fn node_api(self: Arc<Self>) -> Option<Arc<Api>> {
        None
    }
}

impl Service for Api {
    fn answer(&self, req: &Request<'_>) -> Reply {
        let target = if req.query.is_empty() {
            req.path.to_string()
        } else {
            format!("{}?{}", req.path, req.query)
        };
        // Mesh, the transaction routes, the store-backed reads, then the others.
        mesh::answer(self, req)
            .or_else(|| tx::answer(self, req))
            .or_else(|| reads::answer(self, req.method, &target))
            .unwrap_or_else(|| api::answer(self, req))
    }

    fn figures(&self) -> &Figures {
        Api::figures(self)
    }

    fn node_api(self: Arc<Self>) -> Option<Arc<Api>> {
        Some(self)
    }
}

/// Listens on `config.listen` and serves `api` on `executor` until the
/// executor is dropped; returns the address bound (port 0 picks one), or
/// why it cannot listen, naming `--http`.
pub async fn start(
    config: &HttpConfig,
    api: Api,
    executor: &Arc<smol::Executor<'static>>,
) -> Result<SocketAddr, HttpError> {
    let cannot = |source: std::io::Error| HttpError::Listen {
        addr: config.listen,
        source,
    };
    let listener = TcpListener::bind(config.listen).await.map_err(cannot)?;
    let addr = listener.local_addr().map_err(cannot)?;
    log::info!("goodwill node: http on http://{addr}/");
    serve(listener, api, config.limits, executor);
    Ok(addr)
}

/// Serves `service` on `listener` under `limits`, on `executor` until the
/// executor is dropped.
pub fn serve<S: Service>(
    listener: TcpListener,
    service: S,
    limits: HttpLimits,
    executor: &Arc<smol::Executor<'static>>,
) {
    executor
        .spawn(accept(
            listener,
            Arc::new(service),
            limits,
            Arc::downgrade(executor),
        ))
        .detach();
}

/// Connections answered 503 at once, beyond the cap (more are just closed).
const REFUSALS_AT_ONCE: usize = 16;

/// Store reads in flight at once for all HTTP requests together: more wait
/// for a place, so that a crowd of clients queues here instead of growing
/// the blocking pool into dozens of runnable threads that take the CPU
/// from the core thread importing blocks (docs/performance.md, "HTTP API").
const READS_AT_ONCE: usize = 4;

async fn accept<S: Service>(
    listener: TcpListener,
    api: Arc<S>,
    limits: HttpLimits,
    executor: std::sync::Weak<smol::Executor<'static>>,
) {
    let refusing = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(smol::lock::Semaphore::new(READS_AT_ONCE));
    // Connections open per address: counted by this loop alone, which
    // hears of each closed one through `done` before it accepts the next.
    let mut per_ip: std::collections::BTreeMap<IpAddr, usize> = Default::default();
    let (done_tx, done_rx) = smol::channel::unbounded::<IpAddr>();
    loop {
        while let Ok(ip) = done_rx.try_recv() {
            if let Some(n) = per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
        let (stream, ip) = match listener.accept().await {
            Ok((s, from)) => (s, from.ip()),
            Err(e) => {
                log::warn!("http accept: {e}");
                smol::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(ex) = executor.upgrade() else {
            return;
        };
        let figures = api.figures();
        let from_ip = per_ip.get(&ip).copied().unwrap_or(0);
        let busy = if from_ip >= limits.max_per_ip {
            Some(format!(
                "this node serves {} HTTP connections at once from one address; try again shortly",
                limits.max_per_ip
            ))
        } else if figures.http_open.load(Ordering::SeqCst) >= limits.max_connections as u64 {
            Some(format!(
                "this node serves {} HTTP connections at once; try again shortly",
                limits.max_connections
            ))
        } else {
            None
        };
        if let Some(detail) = busy {
            figures.http_refused.fetch_add(1, Ordering::Relaxed);
            if refusing.fetch_add(1, Ordering::SeqCst) < REFUSALS_AT_ONCE {
                let refusing = refusing.clone();
                ex.spawn(async move {
                    refuse_busy(stream, &detail).await;
                    refusing.fetch_sub(1, Ordering::SeqCst);
                })
                .detach();
            } else {
                refusing.fetch_sub(1, Ordering::SeqCst);
            }
            continue;
        }
        figures.http_open.fetch_add(1, Ordering::SeqCst);
        *per_ip.entry(ip).or_insert(0) += 1;
        let done = done_tx.clone();
        let api = api.clone();
        let reads = reads.clone();
        ex.spawn(async move {
            connection(&api, stream, ip, limits, reads).await;
            api.figures().http_open.fetch_sub(1, Ordering::SeqCst);
            let _ = done.try_send(ip);
        })
        .detach();
    }
}

/// Answers 503 (a problem) to a connection over the cap, within a second.
async fn refuse_busy(mut stream: TcpStream, detail: &str) {
    let p = api::problem(503, "busy", "Too many connections", detail);
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {}\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        p.content_type,
        p.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&p.body);
    let _ = futures_lite::future::or(
        async {
            let _ = stream.write_all(&out).await;
            let _ = stream.flush().await;
        },
        async {
            smol::Timer::after(Duration::from_secs(1)).await;
        },
    )
    .await;
}

/// Serves one connection until it closes, fails or stays silent for
/// `limits.idle_ms`.
async fn connection<S: Service>(
    api: &Arc<S>,
    stream: TcpStream,
    ip: IpAddr,
    limits: HttpLimits,
    reads: Arc<smol::lock::Semaphore>,
) {
    let heard = Arc::new(AtomicU64::new(crate::runtime::os::now_ms()));
    let io = smol_hyper::rt::FuturesIo::new(Watched {
        stream,
        heard: heard.clone(),
    });
    let api = api.clone();
    let service =
        hyper::service::service_fn(move |req| handle(api.clone(), limits, ip, reads.clone(), req));
    let idle = Duration::from_millis(limits.idle_ms);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(smol_hyper::rt::SmolTimer::new())
        .header_read_timeout(idle)
        .max_header_size(limits.header_bytes)
        .max_buf_size(limits.header_bytes.max(8192) + limits.body_bytes)
        .serve_connection(io, service);
    futures_lite::future::or(
        async {
            if let Err(e) = conn.await {
                log::debug!("http connection: {e}");
            }
        },
        silent_for(&heard, limits.idle_ms),
    )
    .await;
}

/// Completes once nothing was read or written for `idle_ms`.
async fn silent_for(heard: &AtomicU64, idle_ms: u64) {
    loop {
        let last = heard.load(Ordering::Relaxed);
        let now = crate::runtime::os::now_ms();
        let quiet = now.saturating_sub(last);
        if quiet >= idle_ms {
            return;
        }
        smol::Timer::after(Duration::from_millis(idle_ms - quiet)).await;
    }
}

/// A connection that notes when it last moved a byte.
struct Watched {
    stream: TcpStream,
    heard: Arc<AtomicU64>,
}

impl Watched {
    fn moved(&self, n: usize) {
        if n > 0 {
            self.heard
                .store(crate::runtime::os::now_ms(), Ordering::Relaxed);
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.moved(*n);
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.moved(*n);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

/// One request: its body read under the bound, then answered off the
/// executor (store reads block), at most [`READS_AT_ONCE`] at a time.
async fn handle<S: Service>(
    api: Arc<S>,
    limits: HttpLimits,
    ip: IpAddr,
    reads: Arc<smol::lock::Semaphore>,
    req: hyper::Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    api.figures().http_requests.fetch_add(1, Ordering::Relaxed);
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    if let Some(node) = api.clone().node_api() {
        if path == sse::PATH {
            return Ok(sse::respond(node, limits, &req).await);
        }
        // The explorer's HTML pages (everything outside /api/ and /metrics).
        if explorer::serves(&path) {
            let query = req.uri().query().unwrap_or("").to_string();
            // Its pages take no body: one sent is not read, so the connection closes.
            let close = method != "GET" && method != "HEAD"
                || !hyper::body::Body::is_end_stream(req.body());
            let _place = reads.acquire().await;
            let reply =
                smol::unblock(move || explorer::answer(&node, &method, &path, &query)).await;
            return Ok(response(reply, close));
        }
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (reply, close) = if declared.is_some_and(|n| n > limits.body_bytes as u64) {
        (too_large(limits.body_bytes), true)
    } else {
        match read_body(req.into_body(), limits).await {
            Err(r) => (r, true),
            Ok(body) => {
                // A submission waits for the core, not the store: it takes
                // no place among the reads (the link bounds it).
                let _place = if method == "POST" && !mesh::reads_store(&path) {
                    None
                } else {
                    Some(reads.acquire().await)
                };
                let reply = smol::unblock(move || {
                    let req = Request {
                        method: &method,
                        path: &path,
                        query: &query,
                        content_type: content_type.as_deref(),
                        body: &body,
                        ip,
                    };
                    api.answer(&req)
                })
                .await;
                (reply, false)
            }
        }
    };
    Ok(response(reply, close))
}

fn too_large(max: usize) -> Reply {
    api::problem(
        413,
        "body-too-large",
        "Request body too large",
        &format!("a request body is at most {max} bytes"),
    )
}

/// Reads a request body of at most `limits.body_bytes`, each part within
/// `limits.idle_ms` of the last.
async fn read_body(body: Incoming, limits: HttpLimits) -> Result<Bytes, Reply> {
    let read = async {
        match Limited::new(body, limits.body_bytes).collect().await {
            Ok(c) => Ok(c.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                Err(too_large(limits.body_bytes))
            }
            Err(e) => Err(api::problem(
                400,
                "bad-body",
                "The request body could not be read",
                &e.to_string(),
            )),
        }
    };
    // The connection's idle watch closes a body that stops arriving; this
    // bounds one that trickles.
    let deadline = async {
        smol::Timer::after(Duration::from_millis(limits.idle_ms)).await;
        Err(api::problem(
            408,
            "body-timeout",
            "Request body too slow",
            &format!("the body did not arrive within {} ms", limits.idle_ms),
        ))
    };
    futures_lite::future::or(read, deadline).await
}

fn response(reply: Reply, close: bool) -> Response<Body> {
    let mut b = Response::builder()
        .status(reply.status)
        .header(hyper::header::CONTENT_TYPE, reply.content_type)
        .header(hyper::header::CACHE_CONTROL, "no-store");
    if let Some(allow) = reply.allow {
        b = b.header(hyper::header::ALLOW, allow);
    }
    if let Some(s) = reply.retry_after {
        b = b.header(hyper::header::RETRY_AFTER, s);
    }
    if close {
        b = b.header(hyper::header::CONNECTION, "close");
    }
    b.body(Either::Left(Full::new(Bytes::from(reply.body))))
        .unwrap_or_else(|_| Response::new(Either::Left(Full::new(Bytes::new()))))
}
