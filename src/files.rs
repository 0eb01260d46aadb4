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
    let stage = |f: &OutputFile| -> Result<Option<(tempfile::NamedTempFile, PathBuf)>, FilesError> {
        let target = out_dir.join(&f.path);
        if std::fs::read(&target).is_ok_and(|old| old == f.content.as_bytes()) {
            return Ok(None);
        }
        let dir = target.parent().unwrap_or(out_dir).to_path_buf();
        let err = |source| FilesError::Write {
            path: target.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(err)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".sloguard-")
            .tempfile_in(&dir)
            .map_err(err)?;
        tmp.write_all(f.content.as_bytes()).map_err(err)?;
        Ok(Some((tmp, target)))
    };
    // Staging is independent per file; on any error the staged temp files are dropped
    // (deleted) before a single target is replaced.
    let staged: Vec<_> = files.par_iter().map(stage).collect::<Result<Vec<_>, _>>()?;
    for (tmp, target) in staged.into_iter().flatten() {
        tmp.persist(&target).map_err(|e| FilesError::Write {
            path: target.clone(),
            source: e.error,
        })?;
    }
    Ok(())
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
            .filter(|e| e.file_name().to_string_lossy().starts_with(".sloguard-"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
