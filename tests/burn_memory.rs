//! Memory per stream of the streaming core, measured by a counting allocator: 8 windows up
//! to 30d with K = 30 must stay within 2.5 KB per stream (issue: streaming core).
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sloguard::burn::{Core, Layout, SloModel, TierModel};
use sloguard::slo::Severity;
use sloguard::window::Window;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: AllocLayout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: AllocLayout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn memory_per_stream_within_budget() {
    let windows: Vec<Window> = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
        .iter()
        .map(|w| Window::parse(w).unwrap())
        .collect();
    let layout = Layout::new(&windows, 30).unwrap();
    let mut core = Core::new(layout, 300);
    let slo = core.add_slo(SloModel {
        tiers: vec![TierModel {
            severity: Severity::Page,
            long: 2,
            short: 0,
            threshold: 0.0144,
        }],
        min_events: 0,
        counts_good: false,
        budget: 0.001,
    });
    let streams = 100_000;
    let before = LIVE.load(Ordering::Relaxed);
    core.reserve(streams);
    for _ in 0..streams {
        core.add_stream(slo);
    }
    let after = LIVE.load(Ordering::Relaxed);
    let per_stream = (after - before) as f64 / streams as f64;
    println!(
        "memory per stream (8 windows up to 30d, K=30): {per_stream:.0} bytes (core says {})",
        core.bytes_per_stream()
    );
    assert!(per_stream <= 2_500.0, "{per_stream} bytes per stream");
    assert!((per_stream - core.bytes_per_stream() as f64).abs() < 16.0);
}
