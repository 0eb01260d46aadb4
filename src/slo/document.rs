//! One spec file: its YAML documents, each read in its format (Sloth `prometheus/v1` and
//! its Kubernetes form, `sloguard/v1`, OpenSLO v1alpha), unknown keys reported (warnings
//! in Sloth's formats, errors in the superset), the service-level fields checked, and
//! each SLO handed to [`super::validate`]. Also the JSON Schema of the file format.

use std::collections::HashMap;
use std::path::Path;

use super::validate::{build_slo, is_file_safe_name, is_label_name, SloContext};
use super::{compat, openslo, raw, Problem, Service};
use super::{
    DEFAULT_REGION_LABEL, OPENSLO_V1ALPHA, SLOGUARD_VERSION, SLOTH_CRD_KIND, SLOTH_CRD_VERSION,
    SLOTH_VERSION,
};

/// What one file's text gave: services (one per valid document), errors and warnings.
#[derive(Debug, Default)]
pub(super) struct FileParse {
    pub(super) services: Vec<Service>,
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
    pub(super) notes: Vec<Problem>,
}

/// Parses and validates one spec file's text, which may hold several YAML documents.
/// In a file of more than one document every message starts with `document N (line L): `.
pub(super) fn parse_file(file: &Path, text: &str) -> FileParse {
    let docs = compat::split_documents(text);
    let mut out = FileParse::default();
    if docs.is_empty() {
        out.problems.push(Problem {
            file: file.to_path_buf(),
            slo: None,
            message: "the file holds no spec (it is empty)".to_string(),
        });
        return out;
    }
    let many = docs.len() > 1;
    for d in &docs {
        let prefix = |mut p: Problem| {
            if many {
                p.message = format!(
                    "document {} (line {}): {}",
                    d.index,
                    d.line_offset + 1,
                    p.message
                );
            }
            p
        };
        let mut warnings = Vec::new();
        if compat::api_version(&d.text).as_deref() == Some(OPENSLO_V1ALPHA) {
            if let Some((kind, name)) = openslo::skipped_kind(&d.text) {
                out.notes.push(prefix(Problem {
                    file: file.to_path_buf(),
                    slo: None,
                    message: format!(
                        "{kind} {name:?} skipped (only SLO documents are read; a {kind} holds no SLO)"
                    ),
                }));
                continue;
            }
        }
        match parse_document(file, &d.text, d.line_offset, &mut warnings) {
            Ok(s) => out.services.push(s),
            Err(p) => out.problems.extend(p.into_iter().map(prefix)),
        }
        out.warnings.extend(warnings.into_iter().map(prefix));
    }
    out
}

/// Parses and validates one YAML document whose first line is the file's line
/// `line_offset + 1`. Unknown keys go to `warnings` for Sloth's format.
fn parse_document(
    file: &Path,
    text: &str,
    line_offset: usize,
    warnings: &mut Vec<Problem>,
) -> Result<Service, Vec<Problem>> {
    let problem = |slo: Option<&str>, message: String| Problem {
        file: file.to_path_buf(),
        slo: slo.map(str::to_string),
        message,
    };
    let mut problems = Vec::new();
    let (read, parsed) = read_format(text, &mut |slo, m| problems.push(problem(slo, m)));
    let raw = match parsed {
        Ok(r) => r,
        Err(e) => {
            return Err(vec![problem(
                slo_named_in_error(&read.text, &e).as_deref(),
                yaml_message(&e, line_offset),
            )]);
        }
    };
    for (slo, message, lenient) in unknown_keys(&raw, &read, line_offset) {
        let p = problem(slo.as_deref(), message);
        if lenient {
            warnings.push(p);
        } else {
            problems.push(p);
        }
    }
    let (is_sloguard, region_label) =
        service_fields(&raw, &read.text, &mut |m| problems.push(problem(None, m)));
    let is_openslo = raw.version == OPENSLO_V1ALPHA;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut slos = Vec::new();
    for (i, rs) in raw.slos.into_iter().enumerate() {
        let name = rs.name.clone();
        let mut p = |message: String| problems.push(problem(Some(&name), message));
        if let Some(first) = seen.insert(name.clone(), i) {
            p(format!("name: duplicate SLO name (also slos[{first}])"));
        }
        let how = SloContext {
            is_sloguard,
            period_allowed: is_openslo,
            region_label: &region_label,
            service_labels: &raw.labels,
        };
        if let Some(slo) = build_slo(rs, &how, &mut p) {
            slos.push(slo);
        }
    }
    if problems.is_empty() {
        Ok(Service {
            name: raw.service,
            file: file.to_path_buf(),
            version: raw.version,
            labels: raw.labels,
            region_label,
            slos,
            object: raw.object,
        })
    } else {
        Err(problems)
    }
}

/// One document as read in its format (beside what serde made of it).
struct ReadDocument {
    /// The text serde read (Sloth's Kubernetes form with its keys renamed).
    text: String,
    /// The keys serde did not know, as paths.
    ignored: Vec<Vec<compat::Seg>>,
    /// OpenSLO v1alpha: the SLO of objective i is named `objective_names[i]`.
    objective_names: Vec<String>,
}

/// Reads a document as OpenSLO v1alpha, Sloth's Kubernetes form (its camelCase keys
/// renamed, lines kept, `spec:` read as a `prometheus/v1` spec whose version is the
/// `apiVersion`), or a `prometheus/v1` / `sloguard/v1` spec; conversion problems go to
/// `problem(slo, message)`.
fn read_format(
    text: &str,
    problem: &mut dyn FnMut(Option<&str>, String),
) -> (ReadDocument, Result<raw::RawSpec, serde_yaml_ng::Error>) {
    let mut ignored: Vec<Vec<compat::Seg>> = Vec::new();
    let mut objective_names: Vec<String> = Vec::new();
    let (text, parsed) = if compat::api_version(text).as_deref() == Some(OPENSLO_V1ALPHA) {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let parsed: Result<openslo::RawOpenSlo, _> =
            serde_ignored::deserialize(de, |path| ignored.push(compat::segments(&path)));
        let parsed = parsed.map(|os| {
            objective_names = (0..os.spec.objectives.len())
                .map(|i| openslo::slo_name(&os.metadata.name, i))
                .collect();
            let (spec, found) = os.into_spec();
            for (slo, m) in found {
                problem(slo.as_deref(), m);
            }
            spec
        });
        (text.to_string(), parsed)
    } else if compat::is_kubernetes_object(text) {
        let crd_text = compat::crd_keys_to_snake_case(text);
        let de = serde_yaml_ng::Deserializer::from_str(&crd_text);
        let parsed: Result<raw::RawCrd, _> =
            serde_ignored::deserialize(de, |path| ignored.push(compat::segments(&path)));
        let parsed = parsed.map(|crd| {
            if crd.kind != SLOTH_CRD_KIND {
                problem(
                    None,
                    format!(
                        "kind: unsupported kind {:?}, expected {SLOTH_CRD_KIND:?}",
                        crd.kind
                    ),
                );
            }
            crd.into_spec()
        });
        (crd_text, parsed)
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let parsed: Result<raw::RawSpec, _> =
            serde_ignored::deserialize(de, |path| ignored.push(compat::segments(&path)));
        (text.to_string(), parsed)
    };
    let read = ReadDocument {
        text,
        ignored,
        objective_names,
    };
    (read, parsed)
}

/// Every unknown key as (SLO, message, lenient): Sloth reads its own formats leniently
/// (unknown keys are ignored), so do we, but say so (a warning); the superset stays
/// strict so a typo in it is an error.
fn unknown_keys(
    raw: &raw::RawSpec,
    read: &ReadDocument,
    line_offset: usize,
) -> Vec<(Option<String>, String, bool)> {
    let is_openslo = raw.version == OPENSLO_V1ALPHA;
    let lenient = raw.version == SLOTH_VERSION || raw.version == SLOTH_CRD_VERSION || is_openslo;
    let mut out = Vec::new();
    for segs in &read.ignored {
        let in_spec = match segs.as_slice() {
            [compat::Seg::Key(k), rest @ ..]
                if k == "spec" && (raw.version == SLOTH_CRD_VERSION || is_openslo) =>
            {
                rest
            }
            all => all,
        };
        let slo = match in_spec {
            [compat::Seg::Key(k), compat::Seg::Index(i), ..] if k == "slos" => {
                raw.slos.get(*i).map(|s| s.name.clone())
            }
            [compat::Seg::Key(k), compat::Seg::Index(i), ..] if k == "objectives" => {
                read.objective_names.get(*i).cloned()
            }
            _ => None,
        };
        let at = compat::locate(&read.text, segs)
            .map(|l| format!("line {}: ", l + line_offset))
            .unwrap_or_default();
        let path = compat::display(segs);
        let message = if lenient {
            format!(
                "{at}unknown key `{path}` (not part of {:?}; ignored unless --strict)",
                raw.version
            )
        } else {
            format!("{at}{path}: unknown field")
        };
        out.push((slo, message, lenient));
    }
    out
}

/// The service-level fields: version, service name, region label, labels, that the
/// service declares SLOs, plugins. Returns whether it is `sloguard/v1` (an unknown
/// version is read as the strict superset) and the region label.
fn service_fields(
    raw: &raw::RawSpec,
    text: &str,
    problem: &mut dyn FnMut(String),
) -> (bool, String) {
    let is_openslo = raw.version == OPENSLO_V1ALPHA;
    let is_sloguard = match raw.version.as_str() {
        SLOTH_VERSION | SLOTH_CRD_VERSION | OPENSLO_V1ALPHA => false,
        SLOGUARD_VERSION => true,
        other => {
            let field = if compat::is_kubernetes_object(text) {
                format!(
                    "apiVersion: unsupported apiVersion {other:?}, expected {SLOTH_CRD_VERSION:?} or {OPENSLO_V1ALPHA:?}"
                )
            } else {
                format!("version: unsupported version {other:?}, expected {SLOTH_VERSION:?} or {SLOGUARD_VERSION:?}")
            };
            problem(field);
            true
        }
    };
    if !is_file_safe_name(&raw.service) {
        problem(format!(
            "service: {:?} must be non-empty and use only letters, digits, '-', '_' and '.'",
            raw.service
        ));
    }
    let region_label = match (&raw.region_label, is_sloguard) {
        (Some(_), false) => {
            problem(format!(
                "region_label: only allowed with version {SLOGUARD_VERSION:?}"
            ));
            DEFAULT_REGION_LABEL.to_string()
        }
        (Some(l), true) => {
            if !is_label_name(l) {
                problem(format!("region_label: {l:?} is not a valid label name"));
            }
            l.clone()
        }
        (None, _) => DEFAULT_REGION_LABEL.to_string(),
    };
    for k in raw.labels.keys() {
        if !is_label_name(k) {
            problem(format!("labels: {k:?} is not a valid label name"));
        } else if k == &region_label || k.starts_with("sloth_") {
            problem(format!("labels: {k:?} is reserved by sloguard"));
        }
    }
    // (OpenSLO's conversion reports objectives itself.)
    if raw.slos.is_empty() && !is_openslo {
        problem("slos: the service declares no SLO".to_string());
    }
    if let Some(plugins) = &raw.slo_plugins {
        for m in compat::plugin_problems("slo_plugins", &plugins.chain) {
            problem(m);
        }
    }
    (is_sloguard, region_label)
}

fn yaml_message(e: &serde_yaml_ng::Error, line_offset: usize) -> String {
    match e.location() {
        Some(loc) => {
            let msg = e.to_string();
            // serde_yaml_ng appends " at line L column C"; put the position first.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            format!(
                "line {} column {}: {msg}",
                loc.line() + line_offset,
                loc.column()
            )
        }
        None => e.to_string(),
    }
}

/// For a structural error inside `slos[i]`, the name of that SLO, so the problem names it.
fn slo_named_in_error(text: &str, e: &serde_yaml_ng::Error) -> Option<String> {
    let msg = e.to_string();
    let (rest, in_spec) = match msg.strip_prefix("spec.") {
        Some(r) => (r, true),
        None => (msg.as_str(), false),
    };
    let rest = rest.strip_prefix("slos[")?;
    let idx: usize = rest.split(']').next()?.parse().ok()?;
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
    let doc = if in_spec { doc.get("spec")? } else { &doc };
    doc.get("slos")?
        .get(idx)?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// The JSON Schema (draft 2020-12) of a `sloguard/v1` or `prometheus/v1` spec file,
/// generated from the on-disk types, pretty-printed.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(raw::RawSpec);
    schema.insert(
        "title".to_string(),
        "sloguard spec file (sloguard/v1, or Sloth's prometheus/v1)".into(),
    );
    schema.insert(
        "description".to_string(),
        "One service and its SLOs. Fields marked `sloguard/v1 only` are refused in prometheus/v1; unknown keys are warnings in prometheus/v1 and errors in sloguard/v1.".into(),
    );
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
