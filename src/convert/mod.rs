//! Conversion between sloguard specs and other SLO formats: `import` reads OpenSLO
//! `openslo/v1` documents and writes `sloguard/v1` specs; `export` writes a specs
//! directory as `openslo/v1` documents. Imported specs are loaded back through
//! [`crate::slo`] before they are written, so an import never writes a spec that does
//! not validate.

pub mod documents;
pub mod openslo;
pub mod openslo_alerts;
pub mod openslo_export;
pub mod pyrra;
pub mod pyrra_windows;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::slo::{self, LabelMap};

/// A conversion problem, `file: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertProblem {
    pub file: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ConvertProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// What an import read: the specs, and notes about what it skipped (printed, not
/// problems).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    pub specs: Vec<SpecOut>,
    pub notes: Vec<ConvertProblem>,
}

/// One `sloguard/v1` spec as written by `import` (key order as in the README).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecOut {
    pub version: String,
    pub service: String,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    pub labels: LabelMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_label: Option<String>,
    pub slos: Vec<SloOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloOut {
    pub name: String,
    pub objective: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<TierOut>>,
    pub sli: SliOut,
    pub alerting: AlertingOut,
    /// The file and document number it was read from, so a problem of the imported spec
    /// names them.
    #[serde(skip)]
    pub origin: Option<(PathBuf, usize)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "SliMap")]
pub enum SliOut {
    Events {
        error_query: String,
        total_query: String,
    },
    Raw {
        error_ratio_query: String,
    },
}

/// The YAML shape of [`SliOut`]: `events:` or `raw:` (serde_yaml_ng writes an enum as a tag).
#[derive(Serialize)]
struct SliMap {
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<EventsMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<RatioMap>,
}

#[derive(Serialize)]
struct EventsMap {
    error_query: String,
    total_query: String,
}

#[derive(Serialize)]
struct RatioMap {
    error_ratio_query: String,
}

impl From<SliOut> for SliMap {
    fn from(s: SliOut) -> Self {
        match s {
            SliOut::Events {
                error_query,
                total_query,
            } => SliMap {
                events: Some(EventsMap {
                    error_query,
                    total_query,
                }),
                raw: None,
            },
            SliOut::Raw { error_ratio_query } => SliMap {
                events: None,
                raw: Some(RatioMap { error_ratio_query }),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierOut {
    pub severity: String,
    pub long_window: String,
    pub short_window: String,
    pub burn_factor: f64,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertingOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    pub labels: LabelMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_alert: Option<DisableOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_alert: Option<DisableOut>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DisableOut {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable: bool,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    pub labels: LabelMap,
}

impl DisableOut {
    /// A disabled alert.
    pub fn off() -> Self {
        DisableOut {
            disable: true,
            labels: LabelMap::new(),
        }
    }
}

/// The YAML text of a spec.
pub fn spec_yaml(spec: &SpecOut) -> String {
    serde_yaml_ng::to_string(spec).unwrap_or_default()
}

/// Checks that imported specs load as sloguard specs; the problems otherwise, each
/// naming the file and document the SLO came from.
pub fn check_specs(specs: &[SpecOut]) -> Result<(), Vec<ConvertProblem>> {
    let files: Vec<(PathBuf, String)> = specs
        .iter()
        .map(|s| (PathBuf::from(format!("{}.yaml", s.service)), spec_yaml(s)))
        .collect();
    let origin = |service: &Path, slo: &str| {
        let service = service.file_stem()?.to_str()?;
        specs
            .iter()
            .filter(|s| s.service == service)
            .flat_map(|s| &s.slos)
            .find(|o| o.name == slo)?
            .origin
            .clone()
    };
    slo::parse_all(&files).map(|_| ()).map_err(|problems| {
        problems
            .iter()
            .map(
                |p| match p.slo.as_deref().and_then(|n| origin(&p.file, n)) {
                    Some((file, doc)) => {
                        ConvertProblem {
                            file,
                            message: format!(
                        "document {doc}: SLO {:?}: {} (in the imported spec of service {:?})",
                        p.slo.as_deref().unwrap_or_default(),
                        p.message,
                        p.file.file_stem().and_then(|s| s.to_str()).unwrap_or_default()
                    ),
                        }
                    }
                    None => ConvertProblem {
                        file: p.file.clone(),
                        message: format!(
                            "imported spec: {}: {}",
                            p.slo.as_deref().unwrap_or("-"),
                            p.message
                        ),
                    },
                },
            )
            .collect()
    })
}

/// Writes `<service>.yaml` per spec into `dir`, or every spec to stdout as one YAML
/// stream when `dir` is None.
pub fn write_specs(specs: &[SpecOut], dir: Option<&Path>) -> std::io::Result<()> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            for s in specs {
                std::fs::write(d.join(format!("{}.yaml", s.service)), spec_yaml(s))?;
            }
            Ok(())
        }
        None => {
            let text: Vec<String> = specs.iter().map(spec_yaml).collect();
            print!("{}", text.join("---\n"));
            Ok(())
        }
    }
}

/// `CamelCase` of a name (`checkout-availability` → `CheckoutAvailability`), a valid
/// alert name.
pub fn camel_case(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            out.push(c.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert_str(0, "Slo");
    }
    out
}

/// The formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// OpenSLO `openslo/v1`.
    OpenSlo,
    /// Pyrra `pyrra.dev/v1alpha1` `ServiceLevelObjective`.
    Pyrra,
}

/// Why an import or export could not run (problems in the input are reported, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A value at `path` in a YAML document (keys, in order).
pub(crate) fn get<'a>(
    v: &'a serde_yaml_ng::Value,
    path: &[&str],
) -> Option<&'a serde_yaml_ng::Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// A string (or a number, as text) at `path`.
pub(crate) fn get_str(v: &serde_yaml_ng::Value, path: &[&str]) -> Option<String> {
    get(v, path).and_then(|v| match v {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The end of every import: the specs (by service) when there were no problems, else
/// the problems; an input with nothing to import is itself a problem, named `none_found`.
pub(crate) fn collected(
    specs: std::collections::BTreeMap<String, SpecOut>,
    mut problems: Vec<ConvertProblem>,
    files: &[(PathBuf, String)],
    none_found: &str,
) -> Result<Imported, Vec<ConvertProblem>> {
    if specs.is_empty() && problems.is_empty() {
        problems.push(ConvertProblem {
            file: files.first().map(|f| f.0.clone()).unwrap_or_default(),
            message: none_found.to_string(),
        });
    }
    if problems.is_empty() {
        Ok(Imported {
            specs: specs.into_values().collect(),
            notes: Vec::new(),
        })
    } else {
        Err(problems)
    }
}

/// `sloguard import FORMAT FILE... [--out DIR]`: reads the files, writes `sloguard/v1`
/// specs (to `out`, or stdout), after checking that they load. Problems go to stderr;
/// returns whether the import succeeded.
pub fn import_command(
    format: ImportFormat,
    files: &[PathBuf],
    out: Option<&Path>,
) -> Result<bool, ConvertError> {
    let mut texts = Vec::new();
    for f in files {
        let t = std::fs::read_to_string(f).map_err(|source| ConvertError::Read {
            path: f.clone(),
            source,
        })?;
        texts.push((f.clone(), t));
    }
    let specs = match format {
        ImportFormat::OpenSlo => openslo::import(&texts),
        ImportFormat::Pyrra => pyrra::import(&texts),
    };
    let specs = match specs {
        Ok(imported) => {
            for n in &imported.notes {
                eprintln!("note: {n}");
            }
            imported.specs
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s); nothing written", problems.len());
            return Ok(false);
        }
    };
    if specs.is_empty() {
        eprintln!("nothing written");
        return Ok(true);
    }
    if let Err(problems) = check_specs(&specs) {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!("{} problem(s); nothing written", problems.len());
        return Ok(false);
    }
    write_specs(&specs, out).map_err(|source| ConvertError::Write {
        path: out.map_or_else(|| PathBuf::from("-"), Path::to_path_buf),
        source,
    })?;
    if let Some(d) = out {
        let n: usize = specs.iter().map(|s| s.slos.len()).sum();
        eprintln!(
            "wrote {} spec file(s), {n} SLO(s), to {}",
            specs.len(),
            d.display()
        );
    }
    Ok(true)
}

/// `sloguard export openslo --specs DIR [--out FILE]`: the specs as `openslo/v1`
/// documents (to `out`, or stdout). Returns false when the specs do not load.
pub fn export_command(specs: &Path, out: Option<&Path>) -> Result<bool, ConvertError> {
    let services = match slo::load_dir(specs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(false);
        }
    };
    let text = openslo::export(&services);
    match out {
        Some(f) => std::fs::write(f, text).map_err(|source| ConvertError::Write {
            path: f.to_path_buf(),
            source,
        })?,
        None => print!("{text}"),
    }
    Ok(true)
}
