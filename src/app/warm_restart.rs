//! Warm restarts: the core's windows saved beside the journal (every few scheduled
//! evaluations and at every stop) and restored at start-up, so a restart fetches only
//! the span since the save instead of backfilling every window.

use super::App;
use crate::query::MetricsSource;

/// Scheduled evaluations between two saves of the windows (and one at every stop).
const SAVE_EVERY: u32 = 10;

impl<S: MetricsSource> App<S> {
    /// A warm restart: the windows saved beside the journal, when they are this engine's
    /// own; SLOs whose specs changed (and everything, for a file from another version or
    /// a corrupt one, named in a warning) backfill cold.
    pub(super) fn restore_windows(&mut self, at: i64) {
        let Some(path) = &self.windows_file else {
            return;
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read the saved windows: cold start");
                return;
            }
        };
        match self.engine.restore_windows(&bytes, at) {
            Ok((restored, cold)) => {
                tracing::info!(file = %path.display(), restored = restored.len(), cold = cold.len(), "warm restart: windows restored; fetching only the span since they were saved");
                if !cold.is_empty() {
                    tracing::warn!(file = %path.display(), slos = %cold.join(", "), "these SLOs changed (or are new): backfilling them cold");
                }
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "the saved windows are unusable: cold start");
            }
        }
    }

    /// Saves the core's windows beside the journal (atomically, owner-only).
    pub fn save_windows(&mut self) {
        self.unsaved = 0;
        let Some(path) = &self.windows_file else {
            return;
        };
        let bytes = self.engine.windows_image();
        if let Err(e) = write_private_atomic(path, &bytes) {
            tracing::warn!(file = %path.display(), error = %e, "cannot save the windows (a restart will backfill cold)");
        }
    }

    /// Counts a scheduled evaluation; every [`SAVE_EVERY`]th saves the windows.
    pub(super) fn count_scheduled_for_save(&mut self) {
        self.unsaved += 1;
        if self.unsaved >= SAVE_EVERY {
            self.save_windows();
        }
    }
}

/// Writes `bytes` to `path` through a sibling temporary file renamed into place, created
/// owner-only (0600): a crash mid-write leaves the previous file, never half of one.
fn write_private_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
