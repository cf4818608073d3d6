//! Accepting connections. Every connection speaks HTTP/1 and must send its request's head within
//! a deadline. Connections that have not yet shown a device token or opened the join exchange
//! ("unauthenticated") are bounded, in all and per address. When a bound is reached, the oldest
//! of them gives way to the newcomer rather than the newcomer being turned away. A few hundred
//! silent or slow sockets therefore cannot keep an honest device from joining or syncing: an honest
//! client finishes its handshake in milliseconds, while a silent one waits to be pushed out or timed
//! out. The total number of connections stays below what the process may open, keeping descriptors
//! in reserve for the store and for accepting at all.

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::Service;

/// Bounds on connections (see the module).
#[derive(Debug, Clone, Copy)]
pub struct ListenLimits {
    /// How long a connection may take to send a request's head (also while idle between requests).
    pub header_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections not yet authenticated.
    pub max_unauthenticated: usize,
    /// Most connections not yet authenticated from one address.
    pub max_unauthenticated_per_address: usize,
}

impl Default for ListenLimits {
    fn default() -> Self {
        ListenLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_unauthenticated: 256,
            max_unauthenticated_per_address: 64,
        }
    }
}

/// Descriptors kept for the store, its log, the admin CLI's reads and accepting itself.
const RESERVED_DESCRIPTORS: usize = 64;

/// Raises the process's limit on open files to its hard limit, and returns the most connections
/// that leaves room for (the limit less [`RESERVED_DESCRIPTORS`]).
pub fn connection_budget() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                if limit.rlim_cur < limit.rlim_max {
                    let raised = libc::rlimit {
                        rlim_cur: limit.rlim_max,
                        rlim_max: limit.rlim_max,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                        limit = raised;
                    }
                }
                let open = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
                return open.saturating_sub(RESERVED_DESCRIPTORS).max(16);
            }
        }
    }
    ListenLimits::default().max_connections
}

/// Who is connected: counts, and the unauthenticated connections oldest first.
#[derive(Debug, Default)]
struct Admitted {
    total: usize,
    next_id: u64,
    /// Unauthenticated connections, oldest first: their id, address, and how to close them.
    pending: VecDeque<(u64, IpAddr, Arc<Notify>)>,
    per_address: HashMap<IpAddr, usize>,
}

impl Admitted {
    /// Closes the oldest unauthenticated connection (of `address`, if given); whether there was one.
    fn evict_oldest(&mut self, address: Option<IpAddr>) -> bool {
        let at = self
            .pending
            .iter()
            .position(|(_, a, _)| address.is_none_or(|want| *a == want));
        match at.and_then(|i| self.pending.remove(i)) {
            Some((_, address, close)) => {
                self.forget_address(address);
                close.notify_one();
                true
            }
            None => false,
        }
    }

    fn forget_address(&mut self, address: IpAddr) {
        if let Some(n) = self.per_address.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&address);
            }
        }
    }

    fn leave_pending(&mut self, id: u64) {
        if let Some(i) = self.pending.iter().position(|(p, _, _)| *p == id) {
            let (_, address, _) = self.pending.remove(i).expect("found");
            self.forget_address(address);
        }
    }
}

/// The connections of one listener.
#[derive(Debug)]
struct Admission {
    limits: ListenLimits,
    admitted: Mutex<Admitted>,
    /// Woken as connections close (shutdown waits for the last).
    closed: Notify,
}

impl Admission {
    fn lock(&self) -> std::sync::MutexGuard<'_, Admitted> {
        self.admitted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a new connection from `address`, making room by closing the oldest unauthenticated
    /// ones where a bound is reached; `None` when every connection is authenticated and the total
    /// is reached.
    fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Ticket> {
        let mut a = self.lock();
        if a.total >= self.limits.max_connections && !a.evict_oldest(None) {
            return None;
        }
        if a.pending.len() >= self.limits.max_unauthenticated {
            a.evict_oldest(None);
        }
        if a.per_address.get(&address).copied().unwrap_or(0)
            >= self.limits.max_unauthenticated_per_address
        {
            a.evict_oldest(Some(address));
        }
        a.next_id += 1;
        let id = a.next_id;
        let close = Arc::new(Notify::new());
        a.pending.push_back((id, address, close.clone()));
        *a.per_address.entry(address).or_insert(0) += 1;
        a.total += 1;
        Some(Ticket {
            admission: self.clone(),
            id,
            close,
        })
    }

    fn open(&self) -> usize {
        self.lock().total
    }
}

/// A connection's place among the admitted: released when its socket closes (also after an
/// upgrade, since the socket carries it).
#[derive(Debug)]
struct Ticket {
    admission: Arc<Admission>,
    id: u64,
    close: Arc<Notify>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut a = self.admission.lock();
        a.leave_pending(self.id);
        a.total -= 1;
        drop(a);
        self.admission.closed.notify_waiters();
    }
}

/// Handed to request handlers: a handler that has authenticated the connection (a valid device
/// token, or the start of a join) says so, and the connection stops counting as unauthenticated.
#[derive(Debug, Clone)]
pub struct AuthSlot {
    admission: Arc<Admission>,
    id: u64,
}

impl AuthSlot {
    /// The connection is authenticated: it no longer counts against the unauthenticated bounds and
    /// is never closed to make room.
    pub fn authenticated(&self) {
        self.admission.lock().leave_pending(self.id);
    }
}

/// A socket carrying its [`Ticket`].
struct Tracked<T> {
    inner: T,
    _ticket: Arc<Ticket>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves HTTP/1 on one connection (plain or TLS) until it ends, is closed to make room, or the
/// server shuts down.
async fn serve_connection<I>(
    io: Tracked<I>,
    slot: AuthSlot,
    router: Router,
    http: http1::Builder,
    close: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(slot.clone());
        router.clone().call(request)
    });
    let connection = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut connection = pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = close.notified() => {}
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
        }
    }
}

/// Whether an accept error concerns only the connection being accepted.
fn transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    )
}

/// How long a TLS handshake may take (the header deadline starts after it).
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` (over TLS when `tls` is given) until `stop` resolves; then closes
/// the listener, raises `shutdown` (live connections close themselves on it) and waits up to ten
/// seconds for the last connection to close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: impl std::future::Future<Output = ()>,
    shutdown: watch::Sender<bool>,
) {
    let admission = Arc::new(Admission {
        limits,
        admitted: Mutex::new(Admitted::default()),
        closed: Notify::new(),
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let mut stop = pin!(stop);
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) if transient(&e) => continue,
                Err(e) => {
                    // Out of descriptors or memory: the connection waits in the backlog.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Some(ticket) = admission.admit(peer.ip()) else {
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        let ticket = Arc::new(ticket);
        let slot = AuthSlot {
            admission: admission.clone(),
            id: ticket.id,
        };
        let close = ticket.close.clone();
        let (router, http, tls) = (router.clone(), http.clone(), tls.clone());
        let shutdown = shutdown.subscribe();
        tokio::spawn(async move {
            let Some(tls) = tls else {
                let io = Tracked {
                    inner: socket,
                    _ticket: ticket,
                };
                return serve_connection(io, slot, router, http, close, shutdown).await;
            };
            // The handshake is bounded, and the connection can be closed to make room meanwhile.
            let handshake = tokio::time::timeout(TLS_HANDSHAKE, tls.accept(socket));
            let stream = tokio::select! {
                done = handshake => match done {
                    Ok(Ok(stream)) => stream,
                    _ => return,
                },
                () = close.notified() => return,
            };
            let io = Tracked {
                inner: stream,
                _ticket: ticket,
            };
            serve_connection(io, slot, router, http, close, shutdown).await;
        });
    }
    drop(listener);
    let _ = shutdown.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let closed = admission.closed.notified();
            if admission.open() == 0 {
                break;
            }
            closed.await;
        }
    })
    .await;
}
