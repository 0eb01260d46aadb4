//! The accept loop in front of the router, with the limits a slow or hostile client needs
//! (axum's own `serve` has none): a connection must send its request headers within
//! `HEADER_READ_TIMEOUT` (an idle keep-alive connection likewise, so idle connections
//! close), and every connection is its own task, so thousands of half-sent connections
//! never keep `/healthz` or the failover signal from answering. The process's open-file
//! limit is raised to its hard limit at start so those connections cannot exhaust it.

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
/// in-flight requests finish.
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
    mut stop: tokio::sync::watch::Receiver<bool>,
    header_read_timeout: Duration,
) {
    raise_fd_limit();
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
        let service = TowerToHyperService::new(router.clone());
        let mut conn_stop = stop.clone();
        tokio::spawn(async move {
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
