//! The durable record of failover decisions (embedded SQLite, WAL, synchronous=FULL):
//! incidents, each decision with the burn rates that caused it, and every runbook step
//! attempt and result. After a crash the engine resumes an incident from the first step
//! not recorded as done, and never repeats a completed step.
//!
//! It also holds what keeps a failover in place across a restart: each domain's policy
//! state (phase, active region, latch, last failover, consecutive count, pending
//! approval), written in the same transaction as the decisions that change it, and every
//! raised failover signal. Both are read back before the server answers anything.
//!
//! Only what the actuator describes is stored; step descriptions never carry secrets.
//! The database file and its `-wal`/`-shm` siblings are still owner-only (0600): incident
//! reasons and step details are operational data, not for every local user.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("journal {path} failed its integrity check: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("journal: policy state of {domain} is unreadable: {detail}")]
    State { domain: String, detail: String },
    #[error(
        "journal {path} is not a regular file (a symlink, directory or device): refusing to use it"
    )]
    NotAFile { path: String },
    #[error("journal {path} is in use by another sloguard process (lock {lock}): one journal per replica")]
    Locked { path: String, lock: String },
    #[error("{path} is not a sloguard journal ({detail})")]
    NotAJournal { path: String, detail: String },
    #[error("journal {path}: {why}: refusing to replace it")]
    Refused { path: String, why: String },
    #[error("journal {path}: cannot make it owner-only (0600): {source}")]
    Permissions {
        path: String,
        source: std::io::Error,
    },
}

/// The files SQLite keeps beside the database (WAL mode, and a rollback journal left by
/// an older mode).
const SIBLINGS: &[&str] = &["-wal", "-shm", "-journal"];

/// Makes `path` owner-only: created with mode 0600 when missing (so it is never readable
/// by others, not even between creation and a chmod), set to 0600 when it exists.
#[cfg(unix)]
fn owner_only(path: &Path, create: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if create {
        // An empty file is a valid empty SQLite database; `append` never truncates one
        // that exists.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
    } else if !path.exists() {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn owner_only(_path: &Path, _create: bool) -> std::io::Result<()> {
    Ok(())
}

/// Opens (creating) the journal's lock file, owner-only: anyone who can open it can
/// take its lock (a read-only descriptor suffices for `flock`) and so keep the engine
/// from opening its journal, turning automation off at its next start. Created 0600;
/// one left by an older version is tightened through the open descriptor; a symlink in
/// its place is refused rather than followed.
#[cfg(unix)]
fn open_lock(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("the lock is not a regular file"));
    }
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_lock(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// `path` with `suffix` appended to its file name (`journal.db` → `journal.db-wal`).
fn sibling(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// A decision to record: (kind, incident, detail JSON).
pub type NewDecision = (String, Option<u64>, serde_json::Value);

/// An incident to open with a decision: (id, domain, from, to, reason, dry_run).
/// (id, domain, from, to, reason, dry_run, status: `running`, or `following` when a
/// peer replica executes it).
pub type NewIncident = (u64, String, String, String, String, bool, &'static str);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRow {
    pub id: u64,
    pub domain: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    /// running, rolling_back, done, failed, rolled_back, dry_run
    pub status: String,
    pub dry_run: bool,
    /// A GameDay drill, never a real incident.
    pub chaos: bool,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    pub steps: Vec<StepRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    pub index: u32,
    pub name: String,
    pub kind: String,
    pub attempt: u32,
    /// started, done, skipped, failed, dry_run
    pub status: String,
    pub detail: String,
    pub at: i64,
}

pub struct Journal {
    conn: Connection,
    /// The exclusive lock on `<journal>.lock`, held as long as the journal is open.
    _lock: Option<std::fs::File>,
}

/// A journaled decision: (at, domain, incident, kind, detail JSON).
pub type DecisionRow = (i64, String, Option<u64>, String, String);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY, domain TEXT NOT NULL, from_region TEXT NOT NULL, to_region TEXT NOT NULL,
  reason TEXT NOT NULL, status TEXT NOT NULL, dry_run INTEGER NOT NULL, chaos INTEGER NOT NULL,
  opened_at INTEGER NOT NULL, closed_at INTEGER);
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, domain TEXT NOT NULL, incident INTEGER,
  kind TEXT NOT NULL, detail TEXT NOT NULL, chaos INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS policy_state (
  domain TEXT PRIMARY KEY, state TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS signals (
  domain TEXT NOT NULL, region TEXT NOT NULL, raised INTEGER NOT NULL,
  PRIMARY KEY (domain, region));
CREATE INDEX IF NOT EXISTS decisions_domain_at ON decisions (domain, at);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS steps (
  incident INTEGER NOT NULL, step_index INTEGER NOT NULL, attempt INTEGER NOT NULL, name TEXT NOT NULL,
  kind TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (incident, step_index, attempt));
";

impl Journal {
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let err = |source| JournalError::Open {
            path: path.display().to_string(),
            source,
        };
        let perm_err = |p: &Path, source| JournalError::Permissions {
            path: p.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        // Never chmod or open through a symlink, or a device like /dev/null.
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_file() {
                return Err(JournalError::NotAFile {
                    path: path.display().to_string(),
                });
            }
        }
        // One process per journal: two replicas writing one journal would both run the
        // same incident's runbook.
        let lock_path = sibling(path, ".lock");
        let lock = open_lock(&lock_path).map_err(|e| perm_err(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(JournalError::Locked {
                path: path.display().to_string(),
                lock: lock_path.display().to_string(),
            });
        }
        // Before SQLite opens it: SQLite creates its `-wal` and `-shm` files with the
        // database file's mode, so they are 0600 from their first byte too.
        owner_only(path, true).map_err(|e| perm_err(path, e))?;
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Siblings left by an older version (created 0644 beside a 0644 database).
        for suffix in SIBLINGS {
            let p = sibling(path, suffix);
            owner_only(&p, false).map_err(|e| perm_err(&p, e))?;
        }
        let journal = Journal {
            conn,
            _lock: Some(lock),
        };
        journal.check(path)?;
        Ok(journal)
    }

    /// Opens an existing journal for reading only (no lock, no write): `sloguard
    /// incidents` beside a running engine, and restoring the policy state and signals of
    /// a journal that can no longer be written.
    pub fn open_read_only(path: &Path) -> Result<Self, JournalError> {
        use rusqlite::OpenFlags;
        let err = |source| JournalError::Open {
            path: path.display().to_string(),
            source,
        };
        if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
            return Err(JournalError::NotAFile {
                path: path.display().to_string(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        // A writer's transaction (the engine's, beside this read) is waited for briefly.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        // Reading needs the schema to be there; a read proves it.
        conn.query_row("SELECT COUNT(*) FROM policy_state", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| JournalError::NotAJournal {
            path: path.display().to_string(),
            // SQLite's message, without rusqlite repeating it with the code.
            detail: match &e {
                rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
                e => e.to_string(),
            },
        })?;
        Ok(Journal { conn, _lock: None })
    }

    /// Copies another journal's policy states and signals into this one (a fresh
    /// in-memory journal standing in for one that can only be read).
    pub fn import_state(&mut self, from: &Journal) -> Result<(), JournalError> {
        for (domain, state) in from.policy_states()? {
            self.commit_decisions(0, &domain, &[], None, &state, false)?;
        }
        for (domain, region, raised) in from.signals()? {
            self.set_signal(&domain, &region, raised)?;
        }
        Ok(())
    }

    /// Copies the WAL into the database file (best effort, never blocking writers), so
    /// the database alone holds the state: a backup or copy of `journal.db` without its
    /// `-wal` loses at most the last transaction.
    fn checkpoint(&self) {
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }

    /// `PRAGMA quick_check` and a real write: a journal that is corrupt or cannot be
    /// written must turn automation off at start, not fail at the first decision.
    fn check(&self, path: &Path) -> Result<(), JournalError> {
        let detail: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|source| JournalError::Open {
                path: path.display().to_string(),
                source,
            })?;
        if detail != "ok" {
            return Err(JournalError::Corrupt {
                path: path.display().to_string(),
                detail,
            });
        }
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (k, v) VALUES ('write_probe', 'ok')",
                [],
            )
            .map_err(|source| JournalError::Open {
                path: path.display().to_string(),
                source,
            })?;
        Ok(())
    }

    /// Decisions, an incident to open and the domain's new policy state, in one
    /// transaction: either all are durable or none is (and nothing may act on them).
    pub fn commit_decisions(
        &mut self,
        at: i64,
        domain: &str,
        decisions: &[NewDecision],
        incident: Option<&NewIncident>,
        state: &serde_json::Value,
        chaos: bool,
    ) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        for (kind, inc, detail) in decisions {
            tx.execute(
                "INSERT INTO decisions (at, domain, incident, kind, detail, chaos) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![at, domain, inc.map(|i| i as i64), kind, detail.to_string(), chaos],
            )?;
        }
        if let Some((id, d, from, to, reason, dry_run, status)) = incident {
            tx.execute(
                "INSERT OR IGNORE INTO incidents (id, domain, from_region, to_region, reason, status, dry_run, chaos, opened_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?9, ?6, ?7, ?8)",
                params![*id as i64, d, from, to, reason, dry_run, chaos, at, status],
            )?;
        }
        tx.execute(
            "INSERT INTO policy_state (domain, state, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (domain) DO UPDATE SET state = excluded.state, at = excluded.at",
            params![domain, state.to_string(), at],
        )?;
        tx.commit()?;
        self.checkpoint();
        Ok(())
    }

    /// Every domain's last journaled policy state (JSON).
    pub fn policy_states(&self) -> Result<Vec<(String, serde_json::Value)>, JournalError> {
        let mut st = self
            .conn
            .prepare("SELECT domain, state FROM policy_state ORDER BY domain")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (domain, text) = row?;
            let v = serde_json::from_str(&text).map_err(|e| JournalError::State {
                domain: domain.clone(),
                detail: e.to_string(),
            })?;
            out.push((domain, v));
        }
        Ok(out)
    }

    /// Records a failover signal's value (the decision rows say when and why).
    pub fn set_signal(&self, domain: &str, region: &str, raised: bool) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO signals (domain, region, raised) VALUES (?1, ?2, ?3)
             ON CONFLICT (domain, region) DO UPDATE SET raised = excluded.raised",
            params![domain, region, raised],
        )?;
        self.checkpoint();
        Ok(())
    }

    /// Every journaled signal: (domain, region, raised).
    pub fn signals(&self) -> Result<Vec<(String, String, bool)>, JournalError> {
        let mut st = self
            .conn
            .prepare("SELECT domain, region, raised FROM signals ORDER BY domain, region")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// An in-memory journal (GameDays, tests).
    pub fn in_memory() -> Result<Self, JournalError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Journal { conn, _lock: None })
    }

    /// Writes a copy of the whole journal to `path` (a drill's in-memory journal, kept
    /// for `sloguard report`), owner-only, into a temporary file beside it, then renamed
    /// over it. Only a missing file or an earlier drill copy is replaced: never a file
    /// that is not a journal, one holding real (non-drill) decisions, or an engine's live
    /// journal (its lock or WAL files beside it).
    pub fn save_copy(&self, path: &Path) -> Result<(), JournalError> {
        Journal::replaceable_by_copy(path)?;
        let tmp = sibling(path, &format!(".{}.partial", std::process::id()));
        let io_err = |p: &Path, e: std::io::Error| JournalError::Permissions {
            path: p.display().to_string(),
            source: e,
        };
        let written = self
            .conn
            .execute("VACUUM INTO ?1", [tmp.display().to_string()])
            .map_err(|e| JournalError::Open {
                path: tmp.display().to_string(),
                source: e,
            })
            .and_then(|_| owner_only(&tmp, false).map_err(|e| io_err(&tmp, e)))
            .and_then(|_| std::fs::rename(&tmp, path).map_err(|e| io_err(path, e)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Whether [`Journal::save_copy`] may write `path`: missing, or an earlier drill copy.
    pub fn replaceable_by_copy(path: &Path) -> Result<(), JournalError> {
        let refuse = |why: String| JournalError::Refused {
            path: path.display().to_string(),
            why,
        };
        for suffix in [".lock", "-wal", "-shm"] {
            let beside = sibling(path, suffix);
            if beside.exists() {
                return Err(refuse(format!(
                    "{} is beside it (an engine's journal)",
                    beside.display()
                )));
            }
        }
        if std::fs::symlink_metadata(path).is_ok() {
            let existing = Journal::open_read_only(path)
                .map_err(|e| refuse(format!("it is not a sloguard journal ({e})")))?;
            let real: i64 = existing.conn.query_row(
                "SELECT (SELECT COUNT(*) FROM decisions WHERE chaos = 0) + (SELECT COUNT(*) FROM incidents WHERE chaos = 0)",
                [],
                |r| r.get(0),
            )?;
            if real > 0 {
                return Err(refuse(format!(
                    "it holds {real} real (non-drill) decisions or incidents"
                )));
            }
        }
        Ok(())
    }

    /// The next free incident id.
    pub fn next_incident_id(&self) -> Result<u64, JournalError> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM incidents", [], |r| r.get(0))?;
        Ok(max.unwrap_or(0) as u64 + 1)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn open_incident(
        &self,
        id: u64,
        domain: &str,
        from: &str,
        to: &str,
        reason: &str,
        dry_run: bool,
        chaos: bool,
        at: i64,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO incidents (id, domain, from_region, to_region, reason, status, dry_run, chaos, opened_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8)",
            params![id as i64, domain, from, to, reason, dry_run, chaos, at],
        )?;
        Ok(())
    }

    pub fn close_incident(&self, id: u64, status: &str, at: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE incidents SET status = ?2, closed_at = ?3 WHERE id = ?1",
            params![id as i64, status, at],
        )?;
        Ok(())
    }

    /// A decision (failover, blocked guard, notification…) with its evidence as JSON.
    pub fn record_decision(
        &self,
        at: i64,
        domain: &str,
        incident: Option<u64>,
        kind: &str,
        detail: &serde_json::Value,
        chaos: bool,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO decisions (at, domain, incident, kind, detail, chaos) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at, domain, incident.map(|i| i as i64), kind, detail.to_string(), chaos],
        )?;
        Ok(())
    }

    /// Records an attempt's state; the same (incident, step, attempt) is updated in place.
    #[allow(clippy::too_many_arguments)]
    pub fn record_step(
        &self,
        incident: u64,
        index: u32,
        attempt: u32,
        name: &str,
        kind: &str,
        status: &str,
        detail: &str,
        at: i64,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO steps (incident, step_index, attempt, name, kind, status, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (incident, step_index, attempt) DO UPDATE SET status = excluded.status, detail = excluded.detail, at = excluded.at",
            params![incident as i64, index, attempt, name, kind, status, detail, at],
        )?;
        Ok(())
    }

    /// The status of a step's latest attempt (`started` after a kill -9 mid-step).
    pub fn last_step_status(
        &self,
        incident: u64,
        index: u32,
    ) -> Result<Option<String>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT status FROM steps WHERE incident = ?1 AND step_index = ?2 ORDER BY attempt DESC LIMIT 1",
                params![incident as i64, index],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Opens a closed incident again (an operator finishes or rolls back an incomplete
    /// failover): a crash meanwhile resumes it like any unfinished runbook.
    /// `status`: `running` (finish) or `rolling_back`.
    pub fn reopen_incident(&self, id: u64, status: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE incidents SET status = ?2, closed_at = NULL WHERE id = ?1",
            params![id as i64, status],
        )?;
        Ok(())
    }

    /// Steps of an incident recorded as done or skipped (never to run again).
    pub fn completed_steps(&self, incident: u64) -> Result<BTreeSet<u32>, JournalError> {
        let mut st = self.conn.prepare("SELECT DISTINCT step_index FROM steps WHERE incident = ?1 AND status IN ('done', 'skipped', 'dry_run')")?;
        let rows = st.query_map([incident as i64], |r| r.get::<_, u32>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The number of attempts already made of a step (a resumed run continues counting).
    pub fn attempts(&self, incident: u64, index: u32) -> Result<u32, JournalError> {
        let n: Option<u32> = self
            .conn
            .query_row(
                "SELECT MAX(attempt) FROM steps WHERE incident = ?1 AND step_index = ?2",
                params![incident as i64, index],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(n.unwrap_or(0))
    }

    fn steps_of(&self, incident: u64) -> Result<Vec<StepRow>, JournalError> {
        let mut st = self.conn.prepare(
            "SELECT step_index, name, kind, attempt, status, detail, at FROM steps WHERE incident = ?1 ORDER BY step_index, attempt",
        )?;
        let rows = st.query_map([incident as i64], |r| {
            Ok(StepRow {
                index: r.get(0)?,
                name: r.get(1)?,
                kind: r.get(2)?,
                attempt: r.get(3)?,
                status: r.get(4)?,
                detail: r.get(5)?,
                at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn incidents_where(&self, clause: &str, limit: u32) -> Result<Vec<IncidentRow>, JournalError> {
        let sql = format!(
            "SELECT id, domain, from_region, to_region, reason, status, dry_run, chaos, opened_at, closed_at FROM incidents {clause} ORDER BY id DESC LIMIT {limit}"
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map([], |r| {
            Ok(IncidentRow {
                id: r.get::<_, i64>(0)? as u64,
                domain: r.get(1)?,
                from: r.get(2)?,
                to: r.get(3)?,
                reason: r.get(4)?,
                status: r.get(5)?,
                dry_run: r.get(6)?,
                chaos: r.get(7)?,
                opened_at: r.get(8)?,
                closed_at: r.get(9)?,
                steps: Vec::new(),
            })
        })?;
        let mut out: Vec<IncidentRow> = rows.collect::<Result<_, _>>()?;
        for i in &mut out {
            i.steps = self.steps_of(i.id)?;
        }
        Ok(out)
    }

    /// The most recent incidents, newest first, with their steps.
    pub fn incidents(&self, limit: u32) -> Result<Vec<IncidentRow>, JournalError> {
        self.incidents_where("", limit)
    }

    /// One incident with its steps.
    pub fn incident(&self, id: u64) -> Result<Option<IncidentRow>, JournalError> {
        // Ids are SQLite integers: one beyond them names no incident (and must not wrap).
        if i64::try_from(id).is_err() {
            return Ok(None);
        }
        Ok(self
            .incidents_where(&format!("WHERE id = {}", id as i64), 1)?
            .pop())
    }

    /// The latest incident of `domain` opened before `id` (the report's lookback ends there).
    pub fn previous_incident(
        &self,
        domain: &str,
        id: u64,
    ) -> Result<Option<(i64, Option<i64>)>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT opened_at, closed_at FROM incidents WHERE domain = ?1 AND id < ?2 ORDER BY id DESC LIMIT 1",
                params![domain, id as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The decisions journaled with incident `id`, oldest first.
    pub fn decisions_of_incident(&self, id: u64) -> Result<Vec<DecisionRow>, JournalError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(Vec::new());
        };
        let mut st = self.conn.prepare(
            "SELECT at, domain, incident, kind, detail FROM decisions WHERE incident = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([id], decision_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `limit` decisions (by time) of `domain` journaled in `[since, until]`, oldest
    /// first, and how many there are in all.
    pub fn decisions_of(
        &self,
        domain: &str,
        since: i64,
        until: i64,
        limit: u32,
    ) -> Result<(Vec<DecisionRow>, u64), JournalError> {
        let total: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM decisions WHERE domain = ?1 AND at >= ?2 AND at <= ?3",
            params![domain, since, until],
            |r| r.get(0),
        )?;
        let mut st = self.conn.prepare(
            "SELECT at, domain, incident, kind, detail FROM (SELECT id, at, domain, incident, kind, detail FROM decisions WHERE domain = ?1 AND at >= ?2 AND at <= ?3 ORDER BY at DESC, id DESC LIMIT ?4) ORDER BY at, id",
        )?;
        let rows = st.query_map(params![domain, since, until, limit], decision_row)?;
        Ok((rows.collect::<Result<_, _>>()?, total as u64))
    }

    /// Incidents whose runbook (or roll back) had not finished (the process stopped
    /// mid-run): status `running` or `rolling_back`.
    pub fn unfinished(&self) -> Result<Vec<IncidentRow>, JournalError> {
        self.incidents_where("WHERE status IN ('running', 'rolling_back')", 1000)
    }

    /// Decisions as (at, domain, incident, kind, detail JSON), oldest first.
    pub fn decisions(&self, limit: u32) -> Result<Vec<DecisionRow>, JournalError> {
        let mut st = self.conn.prepare(
            "SELECT at, domain, incident, kind, detail FROM decisions ORDER BY id LIMIT ?1",
        )?;
        let rows = st.query_map([limit], decision_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A `decisions` row selected as `at, domain, incident, kind, detail`.
fn decision_row(r: &rusqlite::Row) -> rusqlite::Result<DecisionRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get::<_, Option<i64>>(2)?.map(|i| i as u64),
        r.get(3)?,
        r.get(4)?,
    ))
}

/// The terminal form of incidents (`sloguard incidents`): one line each, then its steps.
pub fn render_incidents(rows: &[IncidentRow]) -> String {
    use crate::text::escape_control as esc;
    use std::fmt::Write;
    let mut out = String::new();
    for i in rows {
        let _ = writeln!(
            out,
            "incident {} [{}{}{}] {}: {} -> {} opened {}: {}",
            i.id,
            i.status,
            if i.dry_run { ", dry run" } else { "" },
            if i.chaos { ", chaos drill" } else { "" },
            esc(&i.domain),
            esc(&i.from),
            esc(&i.to),
            crate::backtest::format_time(i.opened_at),
            esc(&i.reason)
        );
        for st in &i.steps {
            let _ = writeln!(
                out,
                "  step {} {} ({}) attempt {}: {} {}",
                st.index,
                esc(&st.name),
                st.kind,
                st.attempt,
                esc(&st.status),
                esc(&st.detail)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn one_process_per_journal_and_readers_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("journal.db");
        let mut j = Journal::open(&db).unwrap();
        j.commit_decisions(
            1,
            "web",
            &[],
            None,
            &serde_json::json!({"phase": "x"}),
            false,
        )
        .unwrap();
        j.set_signal("web", "eu-west-1", true).unwrap();
        let second = Journal::open(&db)
            .err()
            .expect("a second writer is refused");
        assert!(matches!(second, JournalError::Locked { .. }), "{second}");
        // A reader needs no lock and sees the state.
        let ro = Journal::open_read_only(&db).unwrap();
        assert_eq!(
            ro.signals().unwrap(),
            vec![("web".into(), "eu-west-1".into(), true)]
        );
        let mut stand_in = Journal::in_memory().unwrap();
        stand_in.import_state(&ro).unwrap();
        assert_eq!(stand_in.policy_states().unwrap().len(), 1);
        assert!(stand_in.signals().unwrap()[0].2);
        drop(ro);
        drop(j);
        // The WAL was checkpointed: the database file alone holds the state.
        let _ = std::fs::remove_file(dir.path().join("journal.db-wal"));
        let _ = std::fs::remove_file(dir.path().join("journal.db-shm"));
        let j = Journal::open(&db).unwrap();
        assert_eq!(
            j.signals().unwrap().len(),
            1,
            "state lost with the -wal file"
        );
        assert_eq!(j.policy_states().unwrap().len(), 1);
    }

    #[test]
    fn a_closed_journal_reads_back_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("journal.db");
        {
            let j = Journal::open(&db).unwrap();
            j.open_incident(3, "web", "a", "b", "burning", false, false, 7)
                .unwrap();
        }
        // A clean close removes the -wal and -shm files; a reader must still open it.
        let ro = Journal::open_read_only(&db).unwrap();
        assert_eq!(ro.incidents(10).unwrap().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn never_a_symlink_or_a_device() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "keep me").unwrap();
        let link = dir.path().join("journal.db");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(matches!(
            Journal::open(&link),
            Err(JournalError::NotAFile { .. })
        ));
        assert!(matches!(
            Journal::open(Path::new("/dev/null")),
            Err(JournalError::NotAFile { .. })
        ));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode();
        assert_ne!(mode & 0o777, 0o600, "the symlink's target was not chmodded");
    }
    use super::*;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn a_new_journal_and_its_wal_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j/journal.db");
        let j = Journal::open(&path).unwrap();
        j.open_incident(1, "web", "a", "b", "burning", false, false, 0)
            .unwrap();
        assert_eq!(mode(&path), 0o600);
        for suffix in ["-wal", "-shm", ".lock"] {
            let p = sibling(&path, suffix);
            assert!(p.exists(), "{} (WAL mode, a write done)", p.display());
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_world_readable_journal_becomes_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        {
            let j = Journal::open(&path).unwrap();
            j.open_incident(1, "web", "a", "b", "burning", false, false, 0)
                .unwrap();
        }
        // As an older version left them: a 0644 database and (empty, so valid) WAL.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wal = sibling(&path, "-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        let lock = sibling(&path, ".lock");
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o666)).unwrap();
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.incidents(10).unwrap().len(), 1, "the data is kept");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&wal), 0o600);
        assert_eq!(mode(&lock), 0o600, "the lock file is tightened too");
    }

    #[test]
    fn survives_reopen_and_tracks_steps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j/journal.db");
        {
            let j = Journal::open(&path).unwrap();
            assert_eq!(j.next_incident_id().unwrap(), 1);
            j.open_incident(
                1,
                "web",
                "us-east-1",
                "eu-west-1",
                "burning",
                false,
                false,
                100,
            )
            .unwrap();
            j.record_decision(
                100,
                "web",
                Some(1),
                "failover",
                &serde_json::json!({"burn_rate_1h": 31.2}),
                false,
            )
            .unwrap();
            j.record_step(1, 0, 1, "notify", "sns", "done", "published", 101)
                .unwrap();
            j.record_step(1, 1, 1, "dns", "route53_records", "started", "", 102)
                .unwrap();
        }
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.next_incident_id().unwrap(), 2);
        let open = j.unfinished().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].steps.len(), 2);
        assert_eq!(j.completed_steps(1).unwrap(), [0].into());
        assert_eq!(j.attempts(1, 1).unwrap(), 1);
        j.record_step(1, 1, 1, "dns", "route53_records", "done", "UPSERT", 103)
            .unwrap();
        j.close_incident(1, "done", 104).unwrap();
        assert!(j.unfinished().unwrap().is_empty());
        assert_eq!(j.incidents(10).unwrap()[0].status, "done");
        assert_eq!(j.decisions(10).unwrap()[0].3, "failover");
    }
}
