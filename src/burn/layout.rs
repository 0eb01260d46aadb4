//! Bucket layout of the cascaded rings: one level per window, each level's bucket width a
//! whole multiple of the finer level's, and each window a whole number of its buckets.

use crate::window::Window;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("no windows given")]
    Empty,
    #[error("K must be at least 2, got {0}")]
    BadK(u32),
    #[error("window {window} is not a whole number of {k} buckets of whole seconds")]
    FinestNotDivisible { window: Window, k: u32 },
    #[error("window {window} is not a multiple of the finer level's bucket ({width}s), so the rings cannot nest")]
    NotNested { window: Window, width: i64 },
}

/// One level: a window, its bucket width, and how many closed buckets its ring keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub window: Window,
    /// Bucket width in seconds.
    pub width: i64,
    /// Closed buckets kept: the window spans `slots` closed buckets plus the open one.
    pub slots: usize,
}

/// The levels for a set of windows, finest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub levels: Vec<Level>,
    pub k: u32,
}

impl Layout {
    /// Builds the layout: the finest bucket is `W0 / K`; each coarser width is the largest
    /// multiple of the finer width that divides the window into at least K buckets, so the
    /// edge error of every window stays at most 1/K.
    pub fn new(windows: &[Window], k: u32) -> Result<Self, LayoutError> {
        if k < 2 {
            return Err(LayoutError::BadK(k));
        }
        let mut ws: Vec<Window> = windows.to_vec();
        ws.sort();
        ws.dedup();
        let first = *ws.first().ok_or(LayoutError::Empty)?;
        if first.secs() % u64::from(k) != 0 {
            return Err(LayoutError::FinestNotDivisible { window: first, k });
        }
        let mut levels = Vec::with_capacity(ws.len());
        let mut width = (first.secs() / u64::from(k)) as i64;
        for (i, w) in ws.iter().enumerate() {
            let secs = w.secs() as i64;
            if i > 0 {
                if secs % width != 0 {
                    return Err(LayoutError::NotNested { window: *w, width });
                }
                let n = secs / width;
                let max_factor = (n / i64::from(k)).max(1);
                let factor = (1..=max_factor).rev().find(|d| n % d == 0).unwrap_or(1);
                width *= factor;
            }
            levels.push(Level {
                window: *w,
                width,
                slots: (secs / width) as usize - 1,
            });
        }
        Ok(Layout { levels, k })
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Index of the level of a window.
    pub fn level_of(&self, w: Window) -> Option<usize> {
        self.levels.iter().position(|l| l.window == w)
    }

    /// Total ring slots per stream.
    pub fn total_slots(&self) -> usize {
        self.levels.iter().map(|l| l.slots).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_windows() -> Vec<Window> {
        ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
            .iter()
            .map(|w| Window::parse(w).unwrap())
            .collect()
    }

    #[test]
    fn default_layout_nests_with_k30() {
        let l = Layout::new(&default_windows(), 30).unwrap();
        let widths: Vec<i64> = l.levels.iter().map(|l| l.width).collect();
        assert_eq!(widths, vec![10, 60, 120, 240, 720, 2880, 8640, 86400]);
        assert!(l.levels.iter().all(|l| l.slots == 29));
    }

    #[test]
    fn odd_period_keeps_at_least_k_buckets() {
        let mut w = default_windows();
        w.pop();
        w.push(Window::days(28));
        let l = Layout::new(&w, 30).unwrap();
        let last = l.levels.last().unwrap();
        assert_eq!(Window::days(28).secs() as i64 % last.width, 0);
        assert!(last.slots + 1 >= 30, "{last:?}");
    }

    #[test]
    fn rejects_non_nesting() {
        assert!(matches!(
            Layout::new(&[Window::from_secs(301)], 30),
            Err(LayoutError::FinestNotDivisible { .. })
        ));
        assert!(Layout::new(&[Window::minutes(5), Window::from_secs(3605)], 30).is_err());
    }
}
