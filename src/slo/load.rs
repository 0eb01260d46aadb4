//! Loading specs: every `*.yaml`/`*.yml` file under a directory (sorted, hidden entries
//! skipped), each file parsed ([`super::document`]), and the pieces of a service split
//! over several documents or files merged into one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::document::{parse_file, FileParse};
use super::{Problem, Service, SpecError};

/// Specs that loaded, and the warnings found on the way (unknown keys of Sloth's format).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// Sorted by name; a service split over several documents or files is merged.
    pub services: Vec<Service>,
    pub warnings: Vec<Problem>,
    /// What was skipped on purpose (an OpenSLO `Service` document): printed, never a
    /// problem, not even with `--strict`.
    pub notes: Vec<Problem>,
}

/// Merges the services of every document (file order): a service split over several
/// documents or files becomes one, its SLOs in file order. A duplicate service + SLO pair,
/// or pieces that disagree on the version or the region label, are problems naming both
/// files.
fn merge_services(pieces: Vec<Service>) -> (Vec<Service>, Vec<Problem>) {
    let mut merged: BTreeMap<String, Service> = BTreeMap::new();
    // (service, slo) → the file that defined it first.
    let mut origin: HashMap<(String, String), PathBuf> = HashMap::new();
    let mut problems = Vec::new();
    for piece in pieces {
        for slo in &piece.slos {
            origin
                .entry((piece.name.clone(), slo.name.clone()))
                .or_insert_with(|| piece.file.clone());
        }
        let Some(first) = merged.get_mut(&piece.name) else {
            merged.insert(piece.name.clone(), piece);
            continue;
        };
        let mut agree = true;
        for (what, a, b) in [
            ("version", &first.version, &piece.version),
            ("region_label", &first.region_label, &piece.region_label),
        ] {
            if a != b {
                agree = false;
                problems.push(Problem {
                    file: piece.file.clone(),
                    slo: None,
                    message: format!(
                        "{what}: service {:?} is split over several files with different {what}s ({b:?} here, {a:?} in {})",
                        piece.name,
                        first.file.display()
                    ),
                });
            }
        }
        for slo in piece.slos {
            if let Some(other) = first.slos.iter().find(|s| s.name == slo.name) {
                let prev = origin
                    .get(&(piece.name.clone(), other.name.clone()))
                    .unwrap_or(&first.file);
                problems.push(Problem {
                    file: piece.file.clone(),
                    slo: Some(slo.name.clone()),
                    message: format!(
                        "name: duplicate SLO {:?} of service {:?} (also in {})",
                        slo.name,
                        piece.name,
                        prev.display()
                    ),
                });
            } else if agree {
                first.slos.push(slo);
            }
        }
    }
    (merged.into_values().collect(), problems)
}

/// Parses every `(path, text)` pair; returns the services sorted by name, or every problem.
/// Warnings are dropped; [`parse_all_with_warnings`] keeps them.
pub fn parse_all(files: &[(PathBuf, String)]) -> Result<Vec<Service>, Vec<Problem>> {
    parse_all_with_warnings(files).map(|l| l.services)
}

/// Parses every `(path, text)` pair; returns the services sorted by name with the
/// warnings, or every problem.
pub fn parse_all_with_warnings(files: &[(PathBuf, String)]) -> Result<Loaded, Vec<Problem>> {
    let mut pieces = Vec::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    use rayon::prelude::*;
    // Files are independent and parsing their PromQL dominates; order is kept.
    let parsed: Vec<FileParse> = files
        .par_iter()
        .map(|(path, text)| parse_file(path, text))
        .collect();
    for r in parsed {
        pieces.extend(r.services);
        problems.extend(r.problems);
        warnings.extend(r.warnings);
        notes.extend(r.notes);
    }
    let (services, merge_problems) = merge_services(pieces);
    problems.extend(merge_problems);
    if problems.is_empty() {
        Ok(Loaded {
            services,
            warnings,
            notes,
        })
    } else {
        Err(problems)
    }
}

/// Every `*.yaml` / `*.yml` file under `dir`, recursively, sorted by path (so the order,
/// and with it the merge order of split services, is deterministic). Hidden entries
/// (`.name`) are skipped and symbolic links to directories are not followed.
fn spec_files(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem {
                file: dir.to_path_buf(),
                slo: None,
                message: format!("cannot read directory: {e}"),
            });
            return;
        }
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            spec_files(&path, out, problems);
        } else if path.is_file()
            && matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            )
        {
            out.push(path);
        }
    }
}

/// Reads every `*.yaml` / `*.yml` file under `dir` (recursively, sorted) and parses them
/// all. Warnings are dropped; [`load_dir_with_warnings`] keeps them.
pub fn load_dir(dir: &Path) -> Result<Vec<Service>, SpecError> {
    load_dir_with_warnings(dir).map(|l| l.services)
}

/// Reads every `*.yaml` / `*.yml` file under `dir` (recursively, sorted) and parses them
/// all, keeping the warnings.
pub fn load_dir_with_warnings(dir: &Path) -> Result<Loaded, SpecError> {
    std::fs::read_dir(dir).map_err(|source| SpecError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    let mut problems = Vec::new();
    spec_files(dir, &mut paths, &mut problems);
    paths.sort();
    let mut files = Vec::new();
    for p in paths {
        match std::fs::read_to_string(&p) {
            Ok(t) => files.push((p, t)),
            Err(e) => problems.push(Problem {
                file: p,
                slo: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    if files.is_empty() && problems.is_empty() {
        problems.push(Problem {
            file: dir.to_path_buf(),
            slo: None,
            message: "no spec files (*.yaml, *.yml) in this directory or below".to_string(),
        });
    }
    match parse_all_with_warnings(&files) {
        Ok(s) if problems.is_empty() => Ok(s),
        Ok(_) => Err(SpecError::Invalid { problems }),
        Err(p) => {
            problems.extend(p);
            Err(SpecError::Invalid { problems })
        }
    }
}
