//! PURE: the range queries (segments of decreasing step) that fetch a span of history.

/// The range queries that fetch `(from, to]` at `now`: `(a, b, step)` with points at
/// `a + step ..= b`, `b - a` a multiple of `step`. Data older than 3 days comes at 1h
/// steps, 6 hours to 3 days at 5m, the last 6 hours at `fine`; a span that does not
/// divide evenly takes its leading remainder at finer steps (the last piece, shorter
/// than `fine`, as one point of its own length).
pub(super) fn span_segments(from: i64, to: i64, now: i64, fine: i64) -> Vec<(i64, i64, i64)> {
    let mut out = Vec::new();
    let mut lo = from;
    for (bound, step) in [
        (now - 3 * 86_400, 3600),
        (now - 6 * 3600, 300),
        (i64::MAX, fine),
    ] {
        let hi = bound.min(to);
        if hi <= lo {
            continue;
        }
        // The leading remainder that `step` does not divide: at `fine` steps, and what
        // `fine` does not divide as one point of its own length.
        let r = (hi - lo) % step;
        let tiny = r % fine;
        let mut a = lo;
        if tiny > 0 {
            out.push((a, a + tiny, tiny));
            a += tiny;
        }
        if r - tiny > 0 {
            out.push((a, a + r - tiny, fine));
            a += r - tiny;
        }
        if hi > a {
            out.push((a, hi, step));
        }
        lo = hi;
    }
    out
}

/// `segments` cut so that none holds more than `max_points` points, in the same order and
/// covering the same span: the backfill holds one piece's answers at a time, so its
/// memory is bounded by the points of a piece times the SLOs, not by the history's length.
pub(super) fn chunked(segments: &[(i64, i64, i64)], max_points: i64) -> Vec<(i64, i64, i64)> {
    let max_points = max_points.max(1);
    let mut out = Vec::new();
    for &(a, b, step) in segments {
        let mut lo = a;
        while lo < b {
            let hi = (lo + max_points * step).min(b);
            out.push((lo, hi, step));
            lo = hi;
        }
    }
    out
}

#[cfg(test)]
mod segment_tests {
    use super::{chunked, span_segments};

    fn check(from: i64, to: i64, now: i64, fine: i64) -> Vec<(i64, i64, i64)> {
        let segs = span_segments(from, to, now, fine);
        let mut at = from;
        for &(a, b, step) in &segs {
            assert_eq!(a, at, "segments are contiguous: {segs:?}");
            assert!(b > a && step > 0 && (b - a) % step == 0, "{segs:?}");
            at = b;
        }
        assert_eq!(at, to.max(from), "segments end at the span's end: {segs:?}");
        segs
    }

    #[test]
    fn a_start_up_backfill_keeps_its_three_resolutions() {
        let now = 1_000_000 * 60;
        let segs = check(now - 30 * 86_400, now, now, 60);
        assert_eq!(
            segs,
            vec![
                (now - 30 * 86_400, now - 3 * 86_400, 3600),
                (now - 3 * 86_400, now - 6 * 3600, 300),
                (now - 6 * 3600, now, 60),
            ]
        );
    }

    #[test]
    fn odd_gaps_are_covered_exactly() {
        let now = 1_000_000 * 60;
        check(now - 4 * 86_400 + 7, now - 17, now, 60);
        check(now - 600 + 13, now - 5, now, 10);
        check(now - 7 * 3600 - 31, now - 6 * 3600 + 29, now, 60);
        assert!(span_segments(10, 10, 100, 10).is_empty());
    }

    #[test]
    fn chunks_hold_at_most_their_points_and_cover_the_same_span() {
        let now = 1_000_000 * 60;
        let segs = check(now - 30 * 86_400, now, now, 60);
        let total = |v: &[(i64, i64, i64)]| v.iter().map(|(a, b, s)| (b - a) / s).sum::<i64>();
        for max in [1, 7, 40, 360, 100_000] {
            let pieces = chunked(&segs, max);
            let mut at = now - 30 * 86_400;
            for &(a, b, step) in &pieces {
                assert_eq!(a, at, "contiguous: {pieces:?}");
                assert!((b - a) % step == 0 && (b - a) / step <= max, "{pieces:?}");
                at = b;
            }
            assert_eq!(at, now);
            assert_eq!(total(&pieces), total(&segs), "same points at max {max}");
        }
        // The 6 h fine segment (360 points) in pieces of 40: nine of them.
        let fine: Vec<_> = chunked(&segs, 40)
            .into_iter()
            .filter(|p| p.2 == 60)
            .collect();
        assert_eq!(fine.len(), 9);
        assert_eq!(chunked(&segs, 100_000), segs);
    }
}
