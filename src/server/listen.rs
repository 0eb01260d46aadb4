//! The accept loop in front of the router, with the limits a slow or hostile client needs
//! (axum's own `serve` has none): a connection must send its request headers within
//! `HEADER_READ_TIMEOUT` (an idle keep-alive connection likewise, so idle connections
//! close), and every connection is its own task, so thousands of half-sent connections
//! never keep `/healthz` or the failover signal from answering. The process's open-file
//! limit is raised to its hard limit at start, and each listener holds at most its share
//! of it ([`super::limits::Budget`]): past that, a connection is accepted and answered 503
//! at once (or closed when too many such answers are pending), so `accept` never fails
//! for want of descriptors and the engine keeps descriptors for its own work.

use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

/// How long a client may take to send a request's headers (or to send the next request on
/// an idle keep-alive connection) before the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Raises the soft open-file limit to the hard limit (best effort): each connection is a
/// file descriptor, and the signal endpoint must still accept while many are open.
pub fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

/// Serves `router` on `listener` until `stop` turns true; then stops accepting and lets
/// in-flight requests finish. Holds the main listener's share of the descriptor limit.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    serve_with(listener, router, stop, HEADER_READ_TIMEOUT).await
}

/// [`serve`] with another header-read timeout (tests).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    stop: tokio::sync::watch::Receiver<bool>,
    header_read_timeout: Duration,
) {
    raise_fd_limit();
    let max = super::limits::Budget::current().main;
    serve_limited(listener, router, stop, header_read_timeout, max).await
}

/// [`serve_with`] holding at most `max_connections` connections at once.
pub async fn serve_limited(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
    header_read_timeout: Duration,
    max_connections: usize,
) {
    let open = std::sync::Arc::new(tokio::sync::Semaphore::new(max_connections));
    let overflow =
        std::sync::Arc::new(tokio::sync::Semaphore::new(super::limits::OVERFLOW_ANSWERS));
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // Connections refused so far: said in the log at 1, 10, 100… (a flood writes a
    // handful of lines, not one per connection).
    let mut refused: u64 = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        let accepted = tokio::select! {
            a = listener.accept() => a,
            changed = stop.changed() => {
                // A dropped stop sender means nobody can stop us any more: stop now
                // rather than spin on its error.
                if changed.is_err() {
                    break;
                }
                continue;
            }
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors or similar: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refused += 1;
            if refused
                .checked_ilog10()
                .is_some_and(|e| 10u64.pow(e) == refused)
            {
                tracing::warn!(listen = %addr, limit = max_connections, refused, "connection limit reached: new connections are answered 503 until some close");
            }
            overflow_answer(stream, &overflow);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let mut conn_stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = conn_stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
                }
            }
        });
    }
}

/// Answers a connection past the budget with a 503 (within a second) and closes it; closes
/// it at once when [`super::limits::OVERFLOW_ANSWERS`] answers are already pending.
fn overflow_answer(
    stream: tokio::net::TcpStream,
    overflow: &std::sync::Arc<tokio::sync::Semaphore>,
) {
    use tokio::io::AsyncWriteExt;
    let Ok(permit) = overflow.clone().try_acquire_owned() else {
        drop(stream);
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(super::limits::OVERFLOW_RESPONSE).await?;
            stream.shutdown().await
        })
        .await;
    });
}

/// The sockets a server answers on: `server.listen`, and `server.signal_listen` when
/// configured.
pub struct Listeners {
    pub main: tokio::net::TcpListener,
    pub signal: Option<tokio::net::TcpListener>,
}

impl From<tokio::net::TcpListener> for Listeners {
    fn from(main: tokio::net::TcpListener) -> Self {
        Listeners { main, signal: None }
    }
}

impl Listeners {
    /// Serves `main` and `signal` (each within its share of the descriptor limit) until
    /// `stop` turns true.
    pub fn spawn(
        self,
        main: axum::Router,
        signal: axum::Router,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        raise_fd_limit();
        let budget = super::limits::Budget::current();
        tracing::debug!(
            main = budget.main,
            signal = budget.signal,
            reserve = budget.reserve,
            "connection budget"
        );
        let mut tasks = vec![tokio::spawn(serve_limited(
            self.main,
            main,
            stop.clone(),
            HEADER_READ_TIMEOUT,
            budget.main,
        ))];
        if let Some(l) = self.signal {
            tasks.push(tokio::spawn(serve_limited(
                l,
                signal,
                stop,
                HEADER_READ_TIMEOUT,
                budget.signal,
            )));
        }
        tasks
    }
}
