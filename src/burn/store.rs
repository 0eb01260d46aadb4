//! The cascaded multi-resolution rings for many streams at once: ingest into the finest
//! open bucket, rotate on bucket boundaries, and read any window's running sum.

use super::layout::Layout;

/// Index of a stream in a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u32);

/// Event counts of a bucket or a window: the first is bad events (or good events for SLOs
/// that count good ones), the second all events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub first: u64,
    pub total: u64,
}

/// Counters of what the store did with its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub samples: u64,
    pub late_accepted: u64,
    pub late_dropped: u64,
    /// Buckets whose count did not fit in 32 bits and were clipped.
    pub saturated: u64,
}

/// Rings for every stream; time is an argument (unix seconds), never read from a clock.
#[derive(Debug, Clone)]
pub struct Store {
    layout: Layout,
    lateness: i64,
    ring_offsets: Vec<usize>,
    ring_stride: usize,
    /// Open bucket index of each level (all streams share one clock).
    cur: Vec<i64>,
    /// Latest time seen (valid once `started`).
    clock: i64,
    started: bool,
    open0_start: i64,
    open0_end: i64,
    open0: Vec<[u32; 2]>,
    /// Open buckets of levels 1.. per stream (`stream * (L-1) + level - 1`).
    open: Vec<Counts>,
    /// Running sums of closed buckets per stream and level (`stream * L + level`).
    sums: Vec<Counts>,
    /// Closed buckets per stream (`stream * ring_stride + ring_offsets[level] + slot`).
    rings: Vec<[u32; 2]>,
    pub stats: StoreStats,
}

fn clip(v: u64, saturated: &mut u64) -> u32 {
    u32::try_from(v).unwrap_or_else(|_| {
        *saturated += 1;
        u32::MAX
    })
}

impl Store {
    /// `lateness`: how far (seconds) behind the newest time a sample may be and still count.
    pub fn new(layout: Layout, lateness: i64) -> Self {
        let mut ring_offsets = Vec::with_capacity(layout.len());
        let mut off = 0;
        for l in &layout.levels {
            ring_offsets.push(off);
            off += l.slots;
        }
        let levels = layout.len();
        Store {
            layout,
            lateness,
            ring_offsets,
            ring_stride: off,
            cur: vec![0; levels],
            clock: i64::MIN,
            started: false,
            open0_start: i64::MAX,
            open0_end: i64::MIN,
            open0: Vec::new(),
            open: Vec::new(),
            sums: Vec::new(),
            rings: Vec::new(),
            stats: StoreStats::default(),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn levels(&self) -> usize {
        self.layout.len()
    }

    pub fn len(&self) -> usize {
        self.open0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open0.is_empty()
    }

    /// The newest time the store has been advanced to.
    pub fn clock(&self) -> Option<i64> {
        self.started.then_some(self.clock)
    }

    /// The start of the time range a level's window covers now (its oldest kept bucket).
    pub fn window_start(&self, level: usize) -> Option<i64> {
        self.clock()?;
        let l = &self.layout.levels[level];
        Some((self.cur[level] - l.slots as i64) * l.width)
    }

    /// Reserves room for `additional` more streams exactly (no growth slack).
    pub fn reserve(&mut self, additional: usize) {
        let levels = self.levels();
        self.open0.reserve_exact(additional);
        self.open.reserve_exact(additional * (levels - 1));
        self.sums.reserve_exact(additional * levels);
        self.rings.reserve_exact(additional * self.ring_stride);
    }

    pub fn add_stream(&mut self) -> StreamId {
        let id = StreamId(self.open0.len() as u32);
        let levels = self.levels();
        self.open0.push([0, 0]);
        self.open
            .extend(std::iter::repeat_n(Counts::default(), levels - 1));
        self.sums
            .extend(std::iter::repeat_n(Counts::default(), levels));
        self.rings
            .extend(std::iter::repeat_n([0, 0], self.ring_stride));
        id
    }

    /// One stream's buckets, flattened (open buckets, running sums, rings), for a warm
    /// restart: with [`Self::start_at`] at the same clock, [`Self::restore`] gives the
    /// stream back exactly.
    pub fn image(&self, id: StreamId) -> Vec<u64> {
        let s = id.0 as usize;
        let levels = self.levels();
        let mut out = Vec::with_capacity(2 + 2 * (2 * levels - 1) + 2 * self.ring_stride);
        out.extend(self.open0[s].iter().map(|v| u64::from(*v)));
        for c in &self.open[s * (levels - 1)..(s + 1) * (levels - 1)] {
            out.extend([c.first, c.total]);
        }
        for c in &self.sums[s * levels..(s + 1) * levels] {
            out.extend([c.first, c.total]);
        }
        for c in &self.rings[s * self.ring_stride..(s + 1) * self.ring_stride] {
            out.extend(c.iter().map(|v| u64::from(*v)));
        }
        out
    }

    /// Length of a stream's [`Self::image`].
    pub fn image_len(&self) -> usize {
        2 + 2 * (2 * self.levels() - 1) + 2 * self.ring_stride
    }

    /// Starts the clock at `clock` (a restored image's), if the store has not started.
    pub fn start_at(&mut self, clock: i64) {
        if !self.started {
            self.init(clock);
        }
    }

    /// Puts a stream's [`Self::image`] back; false when its length does not fit this
    /// layout (nothing changes then).
    pub fn restore(&mut self, id: StreamId, image: &[u64]) -> bool {
        if image.len() != self.image_len() {
            return false;
        }
        let s = id.0 as usize;
        let levels = self.levels();
        let small = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        self.open0[s] = [small(image[0]), small(image[1])];
        let mut i = 2;
        for c in &mut self.open[s * (levels - 1)..(s + 1) * (levels - 1)] {
            *c = Counts {
                first: image[i],
                total: image[i + 1],
            };
            i += 2;
        }
        for c in &mut self.sums[s * levels..(s + 1) * levels] {
            *c = Counts {
                first: image[i],
                total: image[i + 1],
            };
            i += 2;
        }
        for c in &mut self.rings[s * self.ring_stride..(s + 1) * self.ring_stride] {
            *c = [small(image[i]), small(image[i + 1])];
            i += 2;
        }
        true
    }

    /// Heap bytes per stream held by the rings and running sums.
    pub fn bytes_per_stream(&self) -> usize {
        let levels = self.levels();
        std::mem::size_of::<[u32; 2]>() * (1 + self.ring_stride)
            + std::mem::size_of::<Counts>() * ((levels - 1) + levels)
    }

    fn init(&mut self, now: i64) {
        for (i, l) in self.layout.levels.iter().enumerate() {
            self.cur[i] = now.div_euclid(l.width);
        }
        self.clock = now;
        self.started = true;
        self.set_open0();
    }

    fn set_open0(&mut self) {
        let w = self.layout.levels[0].width;
        self.open0_start = self.cur[0] * w;
        self.open0_end = self.open0_start + w;
    }

    /// Moves the clock to `now`, closing every bucket that ended; never moves backwards.
    pub fn advance(&mut self, now: i64) {
        if !self.started {
            self.init(now);
            return;
        }
        if now <= self.clock {
            return;
        }
        self.clock = now;
        if now < self.open0_end {
            return;
        }
        let levels = self.levels();
        let mut closing = [0i64; 64];
        let mut active = 0;
        for (i, l) in self.layout.levels.iter().enumerate() {
            let n = now.div_euclid(l.width) - self.cur[i];
            if n == 0 {
                break;
            }
            closing[i] = n;
            active = i + 1;
        }
        for s in 0..self.len() {
            self.close_stream(s, &closing[..active], levels);
        }
        for (i, n) in closing[..active].iter().enumerate() {
            self.cur[i] += n;
        }
        self.set_open0();
    }

    /// Closes `closing[i]` buckets at each level i of one stream: the first closed bucket
    /// holds the level's open content (which cascades into the next level's open bucket),
    /// the rest are empty because no sample arrived in them.
    fn close_stream(&mut self, s: usize, closing: &[i64], levels: usize) {
        let mut saturated = 0;
        for (i, &n) in closing.iter().enumerate() {
            let content = if i == 0 {
                let [a, b] = std::mem::take(&mut self.open0[s]);
                Counts {
                    first: u64::from(a),
                    total: u64::from(b),
                }
            } else {
                std::mem::take(&mut self.open[s * (levels - 1) + i - 1])
            };
            if i + 1 < levels {
                let next = &mut self.open[s * (levels - 1) + i];
                next.first += content.first;
                next.total += content.total;
            }
            let slots = self.layout.levels[i].slots;
            let base = s * self.ring_stride + self.ring_offsets[i];
            let ring = &mut self.rings[base..base + slots];
            let sum = &mut self.sums[s * levels + i];
            if n as usize > slots {
                ring.fill([0, 0]);
                *sum = Counts::default();
                continue;
            }
            for j in 0..n {
                let slot = (self.cur[i] + j).rem_euclid(slots as i64) as usize;
                let old = ring[slot];
                sum.first -= u64::from(old[0]);
                sum.total -= u64::from(old[1]);
                let new = if j == 0 {
                    [
                        clip(content.first, &mut saturated),
                        clip(content.total, &mut saturated),
                    ]
                } else {
                    [0, 0]
                };
                ring[slot] = new;
                sum.first += u64::from(new[0]);
                sum.total += u64::from(new[1]);
            }
        }
        self.stats.saturated += saturated;
    }

    /// Adds events at time `ts`. Samples up to `lateness` behind the clock land in the
    /// bucket that holds their time; older ones are dropped and counted. Returns whether
    /// the sample was counted.
    #[inline]
    pub fn add(&mut self, id: StreamId, ts: i64, first: u32, total: u32) -> bool {
        if ts >= self.open0_end {
            self.advance(ts);
        }
        self.stats.samples += 1;
        if ts >= self.open0_start {
            self.clock = self.clock.max(ts);
            let b = &mut self.open0[id.0 as usize];
            b[0] = b[0].saturating_add(first);
            b[1] = b[1].saturating_add(total);
            return true;
        }
        self.add_late(id, ts, first, total)
    }

    #[cold]
    fn add_late(&mut self, id: StreamId, ts: i64, first: u32, total: u32) -> bool {
        if ts < self.clock - self.lateness {
            self.stats.late_dropped += 1;
            return false;
        }
        self.stats.late_accepted += 1;
        self.place_past(id, ts, first, total);
        true
    }

    /// Adds events of a past span the stream missed (a coverage gap fetched later):
    /// like [`Self::add`], but a sample older than `lateness` still lands in every
    /// level's bucket for its time while that bucket is in the level's ring (older
    /// than the ring: outside every window, so nothing is lost).
    pub fn add_history(&mut self, id: StreamId, ts: i64, first: u32, total: u32) {
        if !self.started || ts >= self.open0_start {
            self.add(id, ts, first, total);
            return;
        }
        self.stats.samples += 1;
        self.place_past(id, ts, first, total);
    }

    /// Places events at a time before the finest open bucket, at every level.
    fn place_past(&mut self, id: StreamId, ts: i64, first: u32, total: u32) {
        let s = id.0 as usize;
        let levels = self.levels();
        for (i, l) in self.layout.levels.iter().enumerate() {
            let b = ts.div_euclid(l.width);
            if b == self.cur[i] {
                // Open at this level: coarser windows read it through the open chain.
                let o = &mut self.open[s * (levels - 1) + i - 1];
                o.first += u64::from(first);
                o.total += u64::from(total);
                return;
            }
            if b >= self.cur[i] - l.slots as i64 {
                let slot = b.rem_euclid(l.slots as i64) as usize;
                let cell = &mut self.rings[s * self.ring_stride + self.ring_offsets[i] + slot];
                let before = *cell;
                cell[0] = cell[0].saturating_add(first);
                cell[1] = cell[1].saturating_add(total);
                let sum = &mut self.sums[s * levels + i];
                sum.first += u64::from(cell[0] - before[0]);
                sum.total += u64::from(cell[1] - before[1]);
            }
        }
    }

    /// Every level's window sum for one stream, finest first, into `out`.
    #[inline]
    pub fn window_sums(&self, id: StreamId, out: &mut [Counts]) {
        let s = id.0 as usize;
        let levels = self.levels();
        let [a, b] = self.open0[s];
        let mut chain = Counts {
            first: u64::from(a),
            total: u64::from(b),
        };
        let sums = &self.sums[s * levels..(s + 1) * levels];
        let open = &self.open[s * (levels - 1)..(s + 1) * (levels - 1)];
        for i in 0..levels {
            if i > 0 {
                chain.first += open[i - 1].first;
                chain.total += open[i - 1].total;
            }
            out[i] = Counts {
                first: sums[i].first + chain.first,
                total: sums[i].total + chain.total,
            };
        }
    }

    /// Calls `f(stream, windows)` for every stream in order, with every level's window sum
    /// (finest first); the fast path of evaluation.
    #[inline]
    pub fn scan(&self, mut f: impl FnMut(usize, &[Counts])) {
        let levels = self.levels();
        let mut out = [Counts::default(); 64];
        let out = &mut out[..levels];
        let streams = self.open0.iter().zip(self.sums.chunks_exact(levels)).zip(
            self.open
                .chunks_exact(levels - 1)
                .chain(std::iter::repeat(&[][..])),
        );
        for (s, ((open0, sums), open)) in streams.enumerate() {
            let mut chain = Counts {
                first: u64::from(open0[0]),
                total: u64::from(open0[1]),
            };
            out[0] = Counts {
                first: sums[0].first + chain.first,
                total: sums[0].total + chain.total,
            };
            for ((o, sum), dst) in open.iter().zip(&sums[1..]).zip(out[1..].iter_mut()) {
                chain.first += o.first;
                chain.total += o.total;
                *dst = Counts {
                    first: sum.first + chain.first,
                    total: sum.total + chain.total,
                };
            }
            f(s, out);
        }
    }

    /// One level's window sum for one stream.
    pub fn window(&self, id: StreamId, level: usize) -> Counts {
        let mut out = [Counts::default(); 64];
        self.window_sums(id, &mut out[..self.levels()]);
        out[level]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::Window;

    fn store() -> Store {
        let w: Vec<Window> = ["5m", "1h", "30d"]
            .iter()
            .map(|x| Window::parse(x).unwrap())
            .collect();
        Store::new(Layout::new(&w, 30).unwrap(), 300)
    }

    #[test]
    fn newest_sample_is_in_every_window() {
        let mut s = store();
        let id = s.add_stream();
        s.add(id, 1_000_000, 1, 10);
        for level in 0..3 {
            assert_eq!(
                s.window(id, level),
                Counts {
                    first: 1,
                    total: 10
                }
            );
        }
    }

    #[test]
    fn samples_expire_from_short_windows_first() {
        let mut s = store();
        let id = s.add_stream();
        let t0 = 1_000_020;
        s.add(id, t0, 5, 5);
        s.advance(t0 + 301);
        assert_eq!(s.window(id, 0).total, 0, "5m window has evicted it");
        assert_eq!(s.window(id, 1).total, 5);
        s.advance(t0 + 3_700);
        assert_eq!(s.window(id, 1).total, 0);
        assert_eq!(s.window(id, 2).total, 5);
        s.advance(t0 + 31 * 86_400);
        assert_eq!(s.window(id, 2).total, 0);
    }

    #[test]
    fn late_samples_land_in_their_bucket_or_are_dropped() {
        let mut s = store();
        let id = s.add_stream();
        s.add(id, 10_000, 0, 1);
        s.advance(10_200);
        assert!(s.add(id, 10_050, 0, 2), "within lateness");
        assert!(!s.add(id, 9_800, 0, 4), "beyond lateness");
        assert_eq!(s.stats.late_dropped, 1);
        assert_eq!(s.window(id, 0).total, 3);
        assert_eq!(s.window(id, 2).total, 3);
        s.advance(10_050 + 310);
        assert_eq!(s.window(id, 0).total, 0);
        assert_eq!(s.window(id, 1).total, 3);
    }
}
