//! The budgets that keep the server answering under load: how many connections each
//! listener holds (derived from the process's open-file limit, so `accept` never runs out
//! of descriptors), and how many webhook bodies are read and processed at once
//! (`server.max_concurrent_webhooks`; beyond it `POST /api/v1/alertmanager` answers 503
//! with `Retry-After` before reading a byte of the body).
//!
//! Why a budget below the descriptor limit: every accepted connection is a descriptor,
//! and so are the journal, the outgoing queries, the peers' and AWS's connections. Once
//! the process is out of descriptors `accept` fails, the kernel's backlog fills and every
//! client, Route 53's health checkers included, sees refused or hanging connections. With
//! a budget, connections past it are accepted and answered 503 at once (at most
//! [`OVERFLOW_ANSWERS`] at a time, the rest closed), and the descriptors in
//! [`Budget::reserve`] stay free for the engine's own work.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Connections past a listener's budget being answered 503 at once; beyond these, new
/// connections are closed without an answer.
pub const OVERFLOW_ANSWERS: usize = 32;

/// How the open-file limit is shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Connections `server.listen` holds at once.
    pub main: usize,
    /// Connections `server.signal_listen` holds at once.
    pub signal: usize,
    /// Descriptors left for everything else: files, outgoing connections, overflow answers.
    pub reserve: usize,
}

impl Budget {
    /// Shares `fd_limit` descriptors: a tenth (at least 128, at most 4096) stays in
    /// reserve, a twentieth (16 to 1024) goes to the signal listener, the rest to the
    /// main listener (at least 16, even when the limit is too small to honour that).
    pub fn from_fd_limit(fd_limit: u64) -> Budget {
        let n = usize::try_from(fd_limit).unwrap_or(usize::MAX).min(1 << 24);
        let reserve = (n / 10).clamp(128, 4096);
        let signal = (n / 20).clamp(16, 1024);
        let main = n.saturating_sub(reserve + signal).max(16);
        Budget {
            main,
            signal,
            reserve,
        }
    }

    /// The budget of this process's current (soft) open-file limit.
    pub fn current() -> Budget {
        let limit = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        Budget::from_fd_limit(limit)
    }
}

/// The answer of a connection past its listener's budget, written before reading the
/// request: a client sees why, and when to come back.
pub const OVERFLOW_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: 37\r\nConnection: close\r\n\r\ntoo many connections: retry shortly.\n";

/// The webhook's bound on bodies in flight: a delivery holds a slot from before its body
/// is read until it is processed.
#[derive(Debug)]
pub struct WebhookSlots {
    slots: tokio::sync::Semaphore,
    max: usize,
}

impl WebhookSlots {
    pub fn new(max: usize) -> Self {
        WebhookSlots {
            slots: tokio::sync::Semaphore::new(max),
            max,
        }
    }

    /// A slot, or None when all are taken (then answer [`Self::busy`]).
    pub fn enter(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.slots.try_acquire().ok()
    }

    /// The 503 (with `Retry-After`) of a delivery that found no slot.
    pub fn busy(&self) -> Response {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            axum::Json(serde_json::json!({"error": format!(
                "{} webhook deliveries are being processed (server.max_concurrent_webhooks): retry shortly",
                self.max
            )})),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_stays_below_the_descriptor_limit() {
        for limit in [256u64, 1024, 4096, 65_536, 1 << 20, u64::MAX] {
            let b = Budget::from_fd_limit(limit);
            let n = limit.min(1 << 24) as usize;
            assert!(
                b.main + b.signal + b.reserve <= n,
                "{limit}: {b:?} overcommits"
            );
            assert!(b.reserve > OVERFLOW_ANSWERS + 64, "{limit}: {b:?}");
            assert!(b.main >= 16 && b.signal >= 16, "{limit}: {b:?}");
        }
        assert_eq!(
            Budget::from_fd_limit(1024),
            Budget {
                main: 845,
                signal: 51,
                reserve: 128
            }
        );
        // Too small to honour: the listeners still get something.
        assert_eq!(Budget::from_fd_limit(64).main, 16);
    }

    #[test]
    fn the_overflow_answer_is_well_formed() {
        let text = std::str::from_utf8(OVERFLOW_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{text}"
        );
    }

    #[test]
    fn slots_run_out_and_come_back() {
        let s = WebhookSlots::new(2);
        let a = s.enter().unwrap();
        let _b = s.enter().unwrap();
        assert!(s.enter().is_none());
        let busy = s.busy();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        drop(a);
        assert!(s.enter().is_some());
    }
}
