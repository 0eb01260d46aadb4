//! The streaming burn-rate core. PURE: no tokio, no I/O, no clock; time (unix seconds) is
//! always an argument.
//!
//! # Mechanics
//! Every window W (5m … 30d) is a *level* with buckets of width g = W/K (K = 30 by
//! default; coarser widths are whole multiples of finer ones, see [`layout`]). Per stream
//! and level the store keeps a ring of K−1 *closed* buckets with a running sum
//! (subtract-on-evict), and one *open* bucket.
//!
//! - A sample is added only to the finest level's open bucket (one add, no time search).
//! - When time crosses a level's bucket boundary, its open bucket closes: it replaces the
//!   oldest ring slot (the running sum subtracts the evicted slot and adds the new one) and
//!   is added to the next level's open bucket. Boundaries nest, so this cascades upwards.
//! - A window's sum = its level's running sum + the open buckets of its level and of every
//!   finer level. The 30d window therefore includes the newest sample.
//! - A window covers between W − g and W of time: the edge error is at most 1/K of the
//!   window (3.3% at K = 30), and there is none when events align to bucket edges.
//! - Late samples (within the allowed lateness, 5m by default) go to the bucket that holds
//!   their time at every level (ring slot + running sum, or the open bucket where it is
//!   still open); older ones are dropped and counted.
//! - "No data" (no events in a window) is distinct from 0% errors: ratios are `None`, and
//!   a tier neither fires nor clears on it ([`core`]).
//!
//! Counters arrive as cumulative samples and become deltas in [`counter`]; raw series are
//! resolved to streams once in [`series`].

pub mod core;
pub mod counter;
pub mod layout;
pub mod series;
pub mod store;
pub mod streams;

pub use self::core::{Core, SloModel, TierModel, Transition, WindowEvents};
pub use layout::{Layout, LayoutError};
pub use store::{Counts, Store, StreamId};

/// Default number of buckets per window.
pub const DEFAULT_K: u32 = 30;
/// Default allowed lateness of samples, seconds.
pub const DEFAULT_LATENESS: i64 = 300;
/// Default staleness after which a silent counter series starts over, seconds.
pub const DEFAULT_STALENESS: i64 = 300;
