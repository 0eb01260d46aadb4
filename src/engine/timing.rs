//! Latency histograms of queries, evaluations and ticks, and their percentiles.

use crate::snapshot::Latency;

/// A latency histogram (µs).
pub(crate) fn hist() -> hdrhistogram::Histogram<u64> {
    // 1 µs .. 10 min at 3 significant digits; the bounds are constants, so this cannot fail.
    hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3)
        .unwrap_or_else(|_| hdrhistogram::Histogram::new(3).expect("valid sigfig"))
}

/// Percentiles of a latency histogram.
pub(crate) fn latency(h: &hdrhistogram::Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    Latency {
        count: h.len(),
        p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: h.max() as f64 / 1000.0,
    }
}
