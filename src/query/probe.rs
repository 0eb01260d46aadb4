//! The HTTP region prober: every replica GETs each region's probe endpoint every
//! `interval` with a `timeout`, and a probe passes when the status is the expected one.
//! Results are stamped with the clock the app gave it and buffered (bounded) until the
//! tick takes them ([`ProbeFeed`]); the pure tracking lives in `crate::probe`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::ProbeConfig;
use crate::probe::{ProbeFeed, ProbeResult};

/// Results kept between two ticks at most (older ones are dropped first).
const BUFFER: usize = 4096;

/// Probes run in background tasks; the buffer is what they found.
pub struct HttpProber {
    buffer: Arc<Mutex<VecDeque<ProbeResult>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl HttpProber {
    /// Starts one task per probed region (inside a tokio runtime).
    pub fn start(
        probes: &std::collections::BTreeMap<String, ProbeConfig>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let buffer: Arc<Mutex<VecDeque<ProbeResult>>> = Arc::default();
        let mut tasks = Vec::new();
        for (region, p) in probes {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(p.timeout.secs().max(1)))
                .connect_timeout(Duration::from_secs(p.timeout.secs().max(1)))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default();
            let (region, p, buffer, clock) =
                (region.clone(), p.clone(), buffer.clone(), clock.clone());
            tasks.push(tokio::spawn(async move {
                let every = Duration::from_secs(p.interval.secs().max(1));
                loop {
                    let at = clock.now();
                    let (ok, detail) = match client.get(&p.url).send().await {
                        Ok(resp) if p.expect.accepts(resp.status().as_u16()) => {
                            (true, String::new())
                        }
                        Ok(resp) => (
                            false,
                            format!("HTTP {} (expected {})", resp.status().as_u16(), p.expect),
                        ),
                        Err(e) if e.is_timeout() => {
                            (false, format!("timed out after {}", p.timeout))
                        }
                        Err(e) => (false, format!("cannot connect: {e}")),
                    };
                    if !ok {
                        tracing::warn!(region = %region, detail = %detail, "region probe failed");
                    }
                    if let Ok(mut b) = buffer.lock() {
                        if b.len() >= BUFFER {
                            b.pop_front();
                        }
                        b.push_back(ProbeResult {
                            region: region.clone(),
                            at,
                            ok,
                            detail,
                        });
                    }
                    tokio::time::sleep(every).await;
                }
            }));
        }
        HttpProber { buffer, tasks }
    }
}

impl Drop for HttpProber {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl ProbeFeed for HttpProber {
    fn take(&self, until: i64) -> Vec<ProbeResult> {
        let Ok(mut b) = self.buffer.lock() else {
            return Vec::new();
        };
        let (due, later): (Vec<ProbeResult>, Vec<ProbeResult>) =
            b.drain(..).partition(|r| r.at <= until);
        b.extend(later);
        due
    }
}
