//! Connections: the node's own accept loop in front of jsonrpsee, so the node, not the
//! library, decides how many connections exist and how much each may hold.
//!
//! jsonrpsee 0.26 counts only requests being handled (an idle keep-alive connection is
//! free), and its WebSocket loop reads and spawns every message as it arrives, whether or
//! not the client reads the answers. Here:
//!
//! - a TCP connection is admitted only under `max_connections` and
//!   `connections_per_ip_max`; the admission lives as long as the socket (an upgraded
//!   WebSocket included);
//! - a request holds a server-wide permit (`requests_in_flight_max`) and one of its client
//!   IP's (`requests_per_ip_in_flight_max`) until its response has been written, so memory
//!   held for responses is bounded in total and one client cannot take all of it;
//! - each connection has a [`ConnMeter`]: a request counts from the moment the middleware
//!   sees it until its response has been written to the socket. At most
//!   `requests_per_connection_in_flight_max` of them run or wait to be written (the others
//!   wait before running), and while a connection has that many, or has read more than one
//!   largest request (`max_request_body_bytes`) since it was last idle, the server stops
//!   *reading* its socket. A client that does not read its answers, or floods requests,
//!   cannot make the node hold more for it than that;
//! - writes that make no progress for `write_timeout_ms` close the connection (its reads
//!   end too, so a WebSocket's tasks stop and the socket is dropped);
//! - HTTP is served as HTTP/1.1 (with upgrades to WebSocket); a request head must arrive
//!   within `header_read_timeout_ms`.

use crate::config::RpcConfig;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// What a busy connection may read beyond one largest request: HTTP headers and WebSocket
/// framing.
const READ_SLACK_BYTES: u64 = 64 * 1024;

/// Total and per-IP connection counts, and each IP's request permits.
pub(crate) struct Admission {
    total_max: usize,
    per_ip_max: usize,
    ip_requests_max: usize,
    open: Mutex<OpenConnections>,
}

/// Open connections in total, and per IP with that IP's request permits.
type OpenConnections = (usize, HashMap<IpAddr, (usize, Arc<Semaphore>)>);

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Total,
    PerIp,
}

/// One admitted connection; dropping it frees its slots.
pub(crate) struct Admitted {
    admission: Arc<Admission>,
    ip: IpAddr,
    /// The request permits shared by every connection of this IP.
    ip_requests: Arc<Semaphore>,
}

impl Admission {
    pub(crate) fn new(total_max: usize, per_ip_max: usize, ip_requests_max: usize) -> Arc<Self> {
        Arc::new(Admission {
            total_max,
            per_ip_max,
            ip_requests_max: ip_requests_max.max(1),
            open: Mutex::new((0, HashMap::new())),
        })
    }

    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refused> {
        let mut open = self.open.lock();
        if open.0 >= self.total_max {
            return Err(Refused::Total);
        }
        let requests_max = self.ip_requests_max;
        let from_ip = open
            .1
            .entry(ip)
            .or_insert_with(|| (0, Arc::new(Semaphore::new(requests_max))));
        if from_ip.0 >= self.per_ip_max {
            return Err(Refused::PerIp);
        }
        from_ip.0 += 1;
        let ip_requests = from_ip.1.clone();
        open.0 += 1;
        Ok(Admitted {
            admission: self.clone(),
            ip,
            ip_requests,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock();
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.ip) {
            n.0 = n.0.saturating_sub(1);
            if n.0 == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// What one connection has in flight. Shared by its socket ([`MeteredStream`]) and, through
/// the request extensions, by the RPC middleware.
pub struct ConnMeter {
    client: IpAddr,
    requests_max: usize,
    /// Bytes the connection may read while it has requests in flight.
    read_budget: u64,
    /// The connection's own request permits (`requests_max` of them).
    slots: Arc<Semaphore>,
    /// Request permits of the client's IP (all its connections).
    ip_requests: Arc<Semaphore>,
    state: Mutex<MeterState>,
}

#[derive(Default)]
struct MeterState {
    /// Requests seen and not yet written back (waiting, running or unwritten).
    in_flight: usize,
    /// Bytes read since `in_flight` was last zero: requests read but not yet answered
    /// come from these, so they bound what the connection's requests hold.
    read_since_idle: u64,
    /// Response bytes handed to the connection so far, and bytes written to its socket.
    produced: u64,
    written: u64,
    /// Responses not yet fully written: where each ends in the `produced` stream, and the
    /// request permits it holds until then.
    unwritten: VecDeque<(u64, Vec<OwnedSemaphorePermit>)>,
    reader: Option<Waker>,
    /// A write timed out: reads end too, so the whole connection closes.
    broken: bool,
}

impl MeterState {
    fn wake_reader(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    /// One request fewer in flight; an idle connection starts its read budget afresh.
    fn release_one(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.read_since_idle = 0;
        }
        self.wake_reader();
    }
}

impl ConnMeter {
    pub(crate) fn new(
        client: IpAddr,
        requests_max: usize,
        read_budget: u64,
        ip_requests: Arc<Semaphore>,
    ) -> Self {
        ConnMeter {
            client,
            requests_max: requests_max.max(1),
            read_budget,
            slots: Arc::new(Semaphore::new(requests_max.max(1))),
            ip_requests,
            state: Mutex::new(MeterState::default()),
        }
    }

    /// The permits a request of this connection holds (see the module docs).
    pub(crate) fn slots(&self) -> Arc<Semaphore> {
        self.slots.clone()
    }

    /// The permits a request of this client's IP holds (see the module docs).
    pub(crate) fn ip_requests(&self) -> Arc<Semaphore> {
        self.ip_requests.clone()
    }

    /// The client's address: filters are counted per client.
    pub fn client(&self) -> IpAddr {
        self.client
    }

    /// A request has arrived; it counts until [`Ticket::finish`]ed and written, or dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> Ticket {
        self.state.lock().in_flight += 1;
        Ticket {
            meter: self.clone(),
            finished: false,
            permits: Vec::new(),
        }
    }

    /// `n` bytes went out on the socket. Bytes beyond what responses account for
    /// (subscription notifications, HTTP and WebSocket framing) are not carried over to
    /// later responses once nothing is pending, so they never release a response early by
    /// more than what is interleaved with it.
    fn written(&self, n: usize) {
        let mut s = self.state.lock();
        s.written = s.written.saturating_add(n as u64);
        while let Some((end, _)) = s.unwritten.front() {
            if *end > s.written {
                break;
            }
            s.unwritten.pop_front();
            s.release_one();
        }
        if s.unwritten.is_empty() {
            s.written = s.produced;
        }
    }

    /// `n` bytes came in from the socket.
    fn read(&self, n: usize) {
        let mut s = self.state.lock();
        s.read_since_idle = s.read_since_idle.saturating_add(n as u64);
    }

    /// Whether the socket may be read now; if not, `cx` is woken when it may. Requests in
    /// flight always finish without reading more (they only need writes), so a connection
    /// that stops reading here always resumes.
    fn read_allowed(&self, cx: &Context<'_>) -> bool {
        let mut s = self.state.lock();
        let busy = s.in_flight >= self.requests_max
            || (s.in_flight > 0 && s.read_since_idle >= self.read_budget);
        if !busy || s.broken {
            return true;
        }
        s.reader = Some(cx.waker().clone());
        false
    }

    /// Remembers who waits for the socket to become readable, so [`Self::break_off`] can
    /// wake it.
    fn reading(&self, cx: &Context<'_>) {
        self.state.lock().reader = Some(cx.waker().clone());
    }

    /// A write timed out: the reading side ends as well (it sees end of stream).
    fn break_off(&self) {
        let mut s = self.state.lock();
        s.broken = true;
        s.wake_reader();
    }

    fn is_broken(&self) -> bool {
        self.state.lock().broken
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.state.lock().in_flight
    }
}

/// One request of a connection (see [`ConnMeter::begin`]).
pub(crate) struct Ticket {
    meter: Arc<ConnMeter>,
    finished: bool,
    permits: Vec<OwnedSemaphorePermit>,
}

impl Ticket {
    /// Keeps `permit` until the response has been written (or the request dropped).
    pub(crate) fn hold(&mut self, permit: OwnedSemaphorePermit) {
        self.permits.push(permit);
    }

    /// The response (`bytes` long) has been handed to the connection; it keeps counting,
    /// and keeps its permits, until that many more bytes have been written.
    pub(crate) fn finish(mut self, bytes: usize) {
        self.finished = true;
        let permits = std::mem::take(&mut self.permits);
        let mut s = self.meter.state.lock();
        if bytes == 0 {
            s.release_one();
            return;
        }
        if s.unwritten.is_empty() {
            s.written = s.produced;
        }
        s.produced = s.produced.saturating_add(bytes as u64);
        let end = s.produced;
        s.unwritten.push_back((end, permits));
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.finished {
            self.meter.state.lock().release_one();
        }
    }
}

/// A connection's socket: reads wait while the connection has too many requests in flight;
/// writes are metered and time out. Owns the connection's admission.
pub(crate) struct MeteredStream {
    inner: TcpStream,
    meter: Arc<ConnMeter>,
    write_timeout: Duration,
    write_stall: Option<Pin<Box<Sleep>>>,
    _admitted: Admitted,
}

impl MeteredStream {
    pub(crate) fn new(
        inner: TcpStream,
        meter: Arc<ConnMeter>,
        write_timeout: Duration,
        admitted: Admitted,
    ) -> Self {
        MeteredStream {
            inner,
            meter,
            write_timeout,
            write_stall: None,
            _admitted: admitted,
        }
    }

    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) => {
                self.write_stall = None;
                self.meter.written(n);
                Poll::Ready(Ok(n))
            }
            Poll::Pending => {
                let timeout = self.write_timeout;
                let stall = self
                    .write_stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stall.as_mut().poll(cx).is_ready() {
                    self.meter.break_off();
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client did not read its responses within rpc.write_timeout_ms",
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncRead for MeteredStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.meter.read_allowed(cx) {
            return Poll::Pending;
        }
        if self.meter.is_broken() {
            // End of stream: the connection's tasks end and the socket is closed.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &r {
            Poll::Ready(Ok(())) => self.meter.read(buf.filled().len() - before),
            Poll::Pending => self.meter.reading(cx),
            Poll::Ready(Err(_)) => {}
        }
        r
    }
}

impl AsyncWrite for MeteredStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.after_write(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Inserts the connection's meter into every HTTP request, whence jsonrpsee copies it into
/// every JSON-RPC request of the connection (WebSocket included).
#[derive(Clone)]
pub(crate) struct WithMeter<S> {
    inner: S,
    meter: Arc<ConnMeter>,
}

impl<S, B> tower::Service<jsonrpsee::server::HttpRequest<B>> for WithMeter<S>
where
    S: tower::Service<jsonrpsee::server::HttpRequest<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: jsonrpsee::server::HttpRequest<B>) -> Self::Future {
        req.extensions_mut().insert(self.meter.clone());
        self.inner.call(req)
    }
}

/// Binds `addr` for [`accept_loop`]; the bound address is the real port when `addr` asked
/// for port 0.
pub(crate) async fn bind(
    addr: std::net::SocketAddr,
) -> Result<(TcpListener, std::net::SocketAddr), crate::errors::RpcError> {
    let bind_error = |source| crate::errors::RpcError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local_addr))
}

/// Accepts connections until `stop`, serving each with `make_service` (jsonrpsee's tower
/// service for that connection).
pub(crate) async fn accept_loop<F, S>(
    listener: TcpListener,
    config: RpcConfig,
    stop: jsonrpsee::server::StopHandle,
    make_service: F,
) where
    F: Fn() -> S,
    S: tower::Service<
            jsonrpsee::server::HttpRequest<hyper::body::Incoming>,
            Response = jsonrpsee::server::HttpResponse,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let admission = Admission::new(
        config.max_connections as usize,
        config.connections_per_ip_max as usize,
        config.requests_per_ip_in_flight_max as usize,
    );
    let write_timeout = Duration::from_millis(config.write_timeout_ms);
    let header_timeout = Duration::from_millis(config.header_read_timeout_ms);
    let mut refusals = LogLimiter::new(Duration::from_secs(10));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.clone().shutdown() => break,
        };
        let (socket, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: nothing to do but try again.
                if refusals.allow() {
                    tracing::warn!(%e, "cannot accept a JSON-RPC connection");
                }
                continue;
            }
        };
        let admitted = match admission.admit(remote.ip()) {
            Ok(a) => a,
            Err(why) => {
                if refusals.allow() {
                    tracing::warn!(%remote, ?why, "JSON-RPC connection refused: connection limit");
                }
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let meter = Arc::new(ConnMeter::new(
            remote.ip(),
            config.requests_per_connection_in_flight_max as usize,
            u64::from(config.max_request_body_bytes).saturating_add(READ_SLACK_BYTES),
            admitted.ip_requests.clone(),
        ));
        let io = MeteredStream::new(socket, meter.clone(), write_timeout, admitted);
        let service = WithMeter {
            inner: make_service(),
            meter,
        };
        let stopped = stop.clone().shutdown();
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = http
                .serve_connection(
                    hyper_util::rt::TokioIo::new(io),
                    hyper_util::service::TowerToHyperService::new(service),
                )
                .with_upgrades();
            tokio::pin!(conn, stopped);
            let result = tokio::select! {
                r = &mut conn => r,
                _ = &mut stopped => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%remote, %e, "JSON-RPC connection ended");
            }
        });
    }
}

/// At most one log line per `interval`: a flood of refused connections must not become a
/// flood of log lines.
struct LogLimiter {
    interval: Duration,
    last: Option<std::time::Instant>,
}

impl LogLimiter {
    fn new(interval: Duration) -> Self {
        LogLimiter {
            interval,
            last: None,
        }
    }

    fn allow(&mut self) -> bool {
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < self.interval)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_counts_total_and_per_ip() {
        let a = Admission::new(3, 2, 1);
        let ip1: IpAddr = [10, 0, 0, 1].into();
        let ip2: IpAddr = [10, 0, 0, 2].into();
        let first = a.admit(ip1).expect("under both limits");
        let _second = a.admit(ip1).expect("under both limits");
        assert_eq!(a.admit(ip1).err(), Some(Refused::PerIp));
        let _third = a.admit(ip2).expect("under both limits");
        assert_eq!(a.admit(ip2).err(), Some(Refused::Total));
        drop(first);
        assert!(a.admit(ip1).is_ok());
    }

    #[test]
    fn a_request_counts_until_its_response_is_written() {
        let m = Arc::new(ConnMeter::new(
            [127, 0, 0, 1].into(),
            2,
            1_000,
            Arc::new(Semaphore::new(1)),
        ));
        let waker = futures_noop_waker();
        let cx = Context::from_waker(&waker);
        let a = m.begin();
        let b = m.begin();
        assert!(!m.read_allowed(&cx));
        a.finish(100);
        b.finish(50);
        assert_eq!(m.in_flight(), 2);
        m.written(99);
        assert_eq!(m.in_flight(), 2);
        m.written(1);
        assert_eq!(m.in_flight(), 1);
        assert!(m.read_allowed(&cx));
        m.written(60);
        assert_eq!(m.in_flight(), 0);
        // A dropped ticket (cancelled call) and an empty response free their slot at once.
        drop(m.begin());
        m.begin().finish(0);
        assert_eq!(m.in_flight(), 0);
        // Bytes written while nothing is pending do not release a later response.
        m.written(1_000);
        m.begin().finish(10);
        assert_eq!(m.in_flight(), 1);
    }

    #[test]
    fn a_busy_connection_reads_at_most_its_budget() {
        let m = Arc::new(ConnMeter::new(
            [127, 0, 0, 1].into(),
            4,
            1_000,
            Arc::new(Semaphore::new(1)),
        ));
        let waker = futures_noop_waker();
        let cx = Context::from_waker(&waker);
        // Idle: reading is always allowed (the next request may be large).
        m.read(5_000);
        assert!(m.read_allowed(&cx));
        let t = m.begin();
        assert!(!m.read_allowed(&cx), "busy and over budget");
        t.finish(10);
        m.written(10);
        assert!(m.read_allowed(&cx), "idle again: the budget starts afresh");
        let t = m.begin();
        m.read(999);
        assert!(m.read_allowed(&cx));
        m.read(1);
        assert!(!m.read_allowed(&cx));
        drop(t);
        assert!(m.read_allowed(&cx));
    }

    fn futures_noop_waker() -> Waker {
        Waker::noop().clone()
    }
}
