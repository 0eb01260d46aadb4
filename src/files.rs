//! The thin I/O shell for generated files: atomic writes (temp file in the same
//! directory, then rename) and the `--check` comparison against what is on disk.
//!
//! A generation run stages every file first and renames only when all were written, so a
//! failing run leaves the output directory as it was, and a reader never sees a partial
//! file. Files are not fsynced: they are reproducible from the specs in Git, and 200
//! fsyncs were most of a 1,000-SLO run. Unchanged files are not rewritten.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A file to produce: a path relative to the output directory and its full content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub path: PathBuf,
    pub content: String,
}

/// Paths (relative) whose content on disk differs from what would be written.
pub fn changed_files(out_dir: &Path, files: &[OutputFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(out_dir.join(&f.path))
                .ok()
                .as_deref()
                != Some(f.content.as_str())
        })
        .map(|f| f.path.clone())
        .collect()
}

/// Writes all files atomically: every file is staged as a temp file beside its target,
/// then all are renamed. Any failure removes the staged files and leaves targets intact.
pub fn write_all_atomic(out_dir: &Path, files: &[OutputFile]) -> Result<(), FilesError> {
    use rayon::prelude::*;
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            out_dir
                .join(&f.path)
                .parent()
                .unwrap_or(out_dir)
                .to_path_buf()
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        std::fs::create_dir_all(d).map_err(|source| FilesError::Write {
            path: d.clone(),
            source,
        })?;
    }
    // A deterministic staging name beside the target: `.<file>.sloguard-tmp`.
    let staging = |target: &Path| {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        target.with_file_name(format!(".{name}.sloguard-tmp"))
    };
    let stage = |f: &OutputFile| -> Result<Option<(PathBuf, PathBuf)>, FilesError> {
        let target = out_dir.join(&f.path);
        if std::fs::read(&target).is_ok_and(|old| old == f.content.as_bytes()) {
            return Ok(None);
        }
        let tmp = staging(&target);
        let mut file = std::fs::File::create(&tmp).map_err(|source| FilesError::Write {
            path: tmp.clone(),
            source,
        })?;
        file.write_all(f.content.as_bytes())
            .map_err(|source| FilesError::Write {
                path: tmp.clone(),
                source,
            })?;
        Ok(Some((tmp, target)))
    };
    let staged: Vec<Result<Option<(PathBuf, PathBuf)>, FilesError>> =
        files.par_iter().map(stage).collect();
    if let Some(pos) = staged.iter().position(|r| r.is_err()) {
        // Remove everything staged; no target was touched.
        for (tmp, _) in staged
            .iter()
            .filter_map(|r| r.as_ref().ok().and_then(|o| o.as_ref()))
        {
            let _ = std::fs::remove_file(tmp);
        }
        return match staged.into_iter().nth(pos) {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        };
    }
    let staged: Vec<(PathBuf, PathBuf)> = staged.into_iter().flatten().flatten().collect();
    staged.par_iter().try_for_each(|(tmp, target)| {
        std::fs::rename(tmp, target).map_err(|source| FilesError::Write {
            path: target.clone(),
            source,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_detects_changes() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            OutputFile {
                path: "a.yaml".into(),
                content: "a\n".into(),
            },
            OutputFile {
                path: "tests/b.yaml".into(),
                content: "b\n".into(),
            },
        ];
        assert_eq!(changed_files(dir.path(), &files).len(), 2);
        write_all_atomic(dir.path(), &files).unwrap();
        assert!(changed_files(dir.path(), &files).is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("tests/b.yaml")).unwrap(),
            "b\n"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".sloguard-tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}

/// What a generation run would do to an output directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Files (relative) whose content would change or that would be created.
    pub changed: Vec<PathBuf>,
    /// Generated files (they start with `header`) the current specs no longer produce.
    pub stale: Vec<PathBuf>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.stale.is_empty()
    }
}

/// Compares `files` with `out_dir` and its `tests/` subdirectory. Only files that start
/// with `header` count as stale, so hand-written files beside the output are never touched.
pub fn plan(out_dir: &Path, files: &[OutputFile], header: &str) -> Plan {
    let mut stale = Vec::new();
    for sub in [PathBuf::new(), PathBuf::from("tests")] {
        let Ok(entries) = std::fs::read_dir(out_dir.join(&sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = sub.join(e.file_name());
            let generated = std::fs::read_to_string(e.path()).is_ok_and(|t| t.starts_with(header));
            if generated && !files.iter().any(|f| f.path == rel) {
                stale.push(rel);
            }
        }
    }
    stale.sort();
    Plan {
        changed: changed_files(out_dir, files),
        stale,
    }
}

/// Carries out a plan: writes every file atomically, then removes the stale ones.
pub fn apply(out_dir: &Path, files: &[OutputFile], plan: &Plan) -> Result<(), FilesError> {
    write_all_atomic(out_dir, files)?;
    for p in &plan.stale {
        let path = out_dir.join(p);
        std::fs::remove_file(&path).map_err(|source| FilesError::Write { path, source })?;
    }
    Ok(())
}
