//! The SLO spec model: loading `slo-specs/**/*.yaml` (Sloth `prometheus/v1` unchanged, or
//! the superset `sloguard/v1`), validating it, and normalising it into [`Service`]s.
//!
//! Parsing and validation are pure functions of (file name, text); [`load_dir`] is the
//! thin shell that reads a directory tree. Every problem found is returned at once as a
//! [`Problem`] (`file: slo: message`), never just the first. A file may hold several
//! YAML documents (`---`), each a spec; one service may be split over several documents
//! or files as long as its SLO names differ. Unknown keys of Sloth's format are warnings
//! ([`Loaded::warnings`]), of `sloguard/v1` errors.

mod compat;
mod openslo;
mod raw;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::calendar::Calendar;
use crate::promql::{self, SliTemplate};
use crate::window::Window;

pub use openslo::OPENSLO_V1ALPHA;
pub use raw::LabelMap;

pub const SLOTH_VERSION: &str = "prometheus/v1";
pub const SLOGUARD_VERSION: &str = "sloguard/v1";
/// The `apiVersion` and `kind` of Sloth's Kubernetes form, read like `prometheus/v1`.
pub const SLOTH_CRD_VERSION: &str = "sloth.slok.dev/v1";
pub const SLOTH_CRD_KIND: &str = "PrometheusServiceLevel";
pub const DEFAULT_REGION_LABEL: &str = "region";
pub const DEFAULT_PERIOD: Window = Window::days(30);

/// One problem in one file, optionally about one SLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub slo: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slo = self.slo.as_deref().unwrap_or("-");
        write!(f, "{}: {}: {}", self.file.display(), slo, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec directory {dir}: {source}")]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: tables align severities with `{:<6}`.
        f.pad(self.as_str())
    }
}

/// A multi-window burn-rate tier: it holds when both windows' error ratios exceed
/// `factor × (1 − objective)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub severity: Severity,
    pub long: Window,
    pub short: Window,
    pub factor: f64,
    /// How long the tier must hold before its alert fires (`for:`); None fires at once.
    /// Only the generated alert rules read it: the engine's own decision counts
    /// consecutive evaluations instead.
    pub for_: Option<Window>,
}

/// The SRE Workbook tiers (DESIGN.md): page 14.4× 1h/5m, page 6× 6h/30m,
/// ticket 3× 1d/2h, ticket 1× 3d/6h.
pub fn default_tiers() -> Vec<Tier> {
    vec![
        Tier {
            severity: Severity::Page,
            long: Window::hours(1),
            short: Window::minutes(5),
            factor: 14.4,
            for_: None,
        },
        Tier {
            severity: Severity::Page,
            long: Window::hours(6),
            short: Window::minutes(30),
            factor: 6.0,
            for_: None,
        },
        Tier {
            severity: Severity::Ticket,
            long: Window::days(1),
            short: Window::hours(2),
            factor: 3.0,
            for_: None,
        },
        Tier {
            severity: Severity::Ticket,
            long: Window::days(3),
            short: Window::hours(6),
            factor: 1.0,
            for_: None,
        },
    ]
}

/// The latency shorthand: requests slower than `threshold` seconds are errors.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySli {
    pub metric: String,
    pub selector: String,
    pub threshold: f64,
}

impl LatencySli {
    /// The `le` label value of the threshold bucket, as Prometheus client libraries write it.
    pub fn le(&self) -> String {
        format!("{}", self.threshold)
    }

    fn selector_with(&self, extra: Option<(&str, &str)>) -> String {
        let inner = self
            .selector
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim();
        let mut parts: Vec<String> = Vec::new();
        if !inner.is_empty() {
            parts.push(inner.to_string());
        }
        if let Some((k, v)) = extra {
            parts.push(format!("{k}=\"{v}\""));
        }
        format!("{{{}}}", parts.join(","))
    }

    pub fn total_query(&self) -> String {
        format!(
            "sum(rate({}_count{}[{}]))",
            self.metric,
            self.selector_with(None),
            promql::WINDOW_PLACEHOLDER
        )
    }

    pub fn error_query(&self) -> String {
        format!(
            "(sum(rate({m}_count{all}[{w}])) - sum(rate({m}_bucket{le}[{w}])))",
            m = self.metric,
            all = self.selector_with(None),
            le = self.selector_with(Some(("le", &self.le()))),
            w = promql::WINDOW_PLACEHOLDER
        )
    }
}

/// How an SLO measures errors.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    Events {
        error_query: String,
        total_query: String,
    },
    Raw {
        error_ratio_query: String,
    },
    Latency(LatencySli),
}

impl Sli {
    /// The (error, total) event-count query templates, when the SLI has them.
    pub fn event_queries(&self) -> Option<(String, String)> {
        match self {
            Sli::Events {
                error_query,
                total_query,
            } => Some((error_query.clone(), total_query.clone())),
            Sli::Latency(l) => Some((l.error_query(), l.total_query())),
            Sli::Raw { .. } => None,
        }
    }
}

/// The SLI pinned to the region label, ready to render per window.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionalSli {
    Events {
        error: SliTemplate,
        total: SliTemplate,
    },
    Ratio {
        error_ratio: SliTemplate,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertSpec {
    pub disable: bool,
    pub labels: LabelMap,
    pub annotations: LabelMap,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Alerting {
    pub name: String,
    pub labels: LabelMap,
    pub annotations: LabelMap,
    pub page: AlertSpec,
    pub ticket: AlertSpec,
}

/// Where an SLI is measured from.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Vantage {
    /// The region's own telemetry (its Prometheus, its services).
    #[default]
    Internal,
    /// From outside the region (e.g. blackbox probes scraped in another region): still
    /// answers when the region and its telemetry are gone.
    External,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub name: String,
    /// Percent, strictly between 0 and 100 (99.9).
    pub objective: f64,
    pub description: Option<String>,
    /// Service labels merged with the SLO's own (SLO wins).
    pub labels: LabelMap,
    pub sli: Sli,
    pub regional: RegionalSli,
    pub alerting: Alerting,
    /// The rolling period, or for a calendar period the longest it can be (31d for a
    /// month): the window the engine keeps so a restart backfills the whole period.
    pub period: Window,
    /// A calendar period (UTC): the budget resets at its boundary ([`crate::calendar`]).
    pub calendar: Option<Calendar>,
    pub tiers: Vec<Tier>,
    pub min_events: u64,
    /// Measured from inside the region (default) or from outside it.
    pub vantage: Vantage,
}

impl Slo {
    /// The error budget as a ratio, rounded to 12 significant digits so 99.9 gives 0.001.
    pub fn error_budget(&self) -> f64 {
        round_sig((100.0 - self.objective) / 100.0)
    }

    pub fn objective_ratio(&self) -> f64 {
        round_sig(self.objective / 100.0)
    }

    /// The error-ratio threshold of a tier: factor × budget, exactly rounded.
    pub fn threshold(&self, tier: &Tier) -> f64 {
        round_sig(tier.factor * self.error_budget())
    }

    /// Every window the SLO needs: 5m (current burn rate), the tiers' windows and the period.
    pub fn windows(&self) -> Vec<Window> {
        let mut w = vec![Window::minutes(5), self.period];
        for t in &self.tiers {
            w.push(t.long);
            w.push(t.short);
        }
        w.sort();
        w.dedup();
        w
    }

    /// The windows the generated rules record a ratio for: [`Self::windows`] without the
    /// rolling stand-in of a calendar period (its ratio is the calendar one), with the
    /// step the calendar ratio is summed at.
    pub fn rule_windows(&self) -> Vec<Window> {
        let mut w = self.windows();
        if let Some(c) = self.calendar {
            if !self.tiers.iter().any(|t| t.long == self.period) {
                w.retain(|x| *x != self.period);
            }
            w.push(c.step());
            w.sort();
            w.dedup();
        }
        w
    }

    /// The period as specs and reports name it: `30d`, or `calendar_month`.
    pub fn period_name(&self) -> String {
        match self.calendar {
            Some(c) => c.name().to_string(),
            None => self.period.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub file: PathBuf,
    pub version: String,
    pub labels: LabelMap,
    pub region_label: String,
    pub slos: Vec<Slo>,
    /// The Kubernetes object the spec came from (Sloth's `PrometheusServiceLevel`): the
    /// PrometheusRule written back for it takes its name and namespace.
    pub object: Option<K8sObject>,
}

/// A Kubernetes object's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sObject {
    pub name: String,
    pub namespace: Option<String>,
}

impl Service {
    /// Sloth's id of an SLO: `<service>-<slo>`.
    pub fn slo_id(&self, slo: &Slo) -> String {
        format!("{}-{}", self.name, slo.name)
    }
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

/// Rounds to 12 significant digits: enough to keep every meaningful digit of a spec value
/// while dropping binary noise (1 − 0.999 = 0.0010000000000000009).
pub fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let s = format!("{:.11e}", x);
    s.parse().unwrap_or(x)
}

/// Formats a number as the shortest exact decimal (`0.0144`, `14.4`, `1`).
pub fn decimal(x: f64) -> String {
    let r = round_sig(x);
    let s = format!("{r}");
    if s.contains('e') {
        format!("{r:.15}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        s
    }
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

fn is_file_safe_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

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

/// What one file's text gave: services (one per valid document), errors and warnings.
#[derive(Debug, Default)]
struct FileParse {
    services: Vec<Service>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    notes: Vec<Problem>,
}

/// Parses and validates one spec file's text, which may hold several YAML documents.
/// In a file of more than one document every message starts with `document N (line L): `.
fn parse_file(file: &Path, text: &str) -> FileParse {
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
    let mut ignored: Vec<Vec<compat::Seg>> = Vec::new();
    let mut problems = Vec::new();
    // Sloth's Kubernetes form: its camelCase keys renamed (lines kept), `spec:` read as
    // a `prometheus/v1` spec whose version is the `apiVersion`.
    let crd_text;
    // OpenSLO v1alpha: the SLO of objective i is named `objective_names[i]`.
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
                problems.push(problem(slo.as_deref(), m));
            }
            spec
        });
        (text, parsed)
    } else if compat::is_kubernetes_object(text) {
        crd_text = compat::crd_keys_to_snake_case(text);
        let de = serde_yaml_ng::Deserializer::from_str(&crd_text);
        let parsed: Result<raw::RawCrd, _> =
            serde_ignored::deserialize(de, |path| ignored.push(compat::segments(&path)));
        let parsed = parsed.map(|crd| {
            if crd.kind != SLOTH_CRD_KIND {
                problems.push(problem(
                    None,
                    format!(
                        "kind: unsupported kind {:?}, expected {SLOTH_CRD_KIND:?}",
                        crd.kind
                    ),
                ));
            }
            crd.into_spec()
        });
        (crd_text.as_str(), parsed)
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let parsed: Result<raw::RawSpec, _> =
            serde_ignored::deserialize(de, |path| ignored.push(compat::segments(&path)));
        (text, parsed)
    };
    let raw = match parsed {
        Ok(r) => r,
        Err(e) => {
            return Err(vec![problem(
                slo_named_in_error(text, &e).as_deref(),
                yaml_message(&e, line_offset),
            )]);
        }
    };
    // Sloth reads its own formats leniently (unknown keys are ignored), so do we, but say
    // so; the superset stays strict so a typo in it is an error.
    let is_openslo = raw.version == OPENSLO_V1ALPHA;
    let lenient = raw.version == SLOTH_VERSION || raw.version == SLOTH_CRD_VERSION || is_openslo;
    for segs in &ignored {
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
                raw.slos.get(*i).map(|s| s.name.as_str())
            }
            [compat::Seg::Key(k), compat::Seg::Index(i), ..] if k == "objectives" => {
                objective_names.get(*i).map(String::as_str)
            }
            _ => None,
        };
        let at = compat::locate(text, segs)
            .map(|l| format!("line {}: ", l + line_offset))
            .unwrap_or_default();
        let path = compat::display(segs);
        if lenient {
            warnings.push(problem(
                slo,
                format!(
                    "{at}unknown key `{path}` (not part of {:?}; ignored unless --strict)",
                    raw.version
                ),
            ));
        } else {
            problems.push(problem(slo, format!("{at}{path}: unknown field")));
        }
    }
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
            problems.push(problem(None, field));
            true
        }
    };
    if !is_file_safe_name(&raw.service) {
        problems.push(problem(
            None,
            format!(
                "service: {:?} must be non-empty and use only letters, digits, '-', '_' and '.'",
                raw.service
            ),
        ));
    }
    let region_label = match (&raw.region_label, is_sloguard) {
        (Some(_), false) => {
            problems.push(problem(
                None,
                format!("region_label: only allowed with version {SLOGUARD_VERSION:?}"),
            ));
            DEFAULT_REGION_LABEL.to_string()
        }
        (Some(l), true) => {
            if !is_label_name(l) {
                problems.push(problem(
                    None,
                    format!("region_label: {l:?} is not a valid label name"),
                ));
            }
            l.clone()
        }
        (None, _) => DEFAULT_REGION_LABEL.to_string(),
    };
    for k in raw.labels.keys() {
        if !is_label_name(k) {
            problems.push(problem(
                None,
                format!("labels: {k:?} is not a valid label name"),
            ));
        } else if k == &region_label || k.starts_with("sloth_") {
            problems.push(problem(
                None,
                format!("labels: {k:?} is reserved by sloguard"),
            ));
        }
    }
    // (OpenSLO's conversion reports objectives itself.)
    if raw.slos.is_empty() && !is_openslo {
        problems.push(problem(
            None,
            "slos: the service declares no SLO".to_string(),
        ));
    }
    if let Some(plugins) = &raw.slo_plugins {
        for m in compat::plugin_problems("slo_plugins", &plugins.chain) {
            problems.push(problem(None, m));
        }
    }

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut slos = Vec::new();
    for (i, rs) in raw.slos.into_iter().enumerate() {
        let name = rs.name.clone();
        let mut p = |message: String| problems.push(problem(Some(&name), message));
        if let Some(first) = seen.insert(name.clone(), i) {
            p(format!("name: duplicate SLO name (also slos[{first}])"));
        }
        if let Some(slo) = build_slo(
            rs,
            is_sloguard,
            is_openslo,
            &region_label,
            &raw.labels,
            &mut p,
        ) {
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

fn build_slo(
    rs: raw::RawSlo,
    is_sloguard: bool,
    // OpenSLO sets the period from its time window.
    period_allowed: bool,
    region_label: &str,
    service_labels: &LabelMap,
    p: &mut dyn FnMut(String),
) -> Option<Slo> {
    let mut count = 0usize;
    let mut err = |m: String| {
        count += 1;
        p(m)
    };
    if !is_file_safe_name(&rs.name) {
        err(format!(
            "name: {:?} must be non-empty and use only letters, digits, '-', '_' and '.'",
            rs.name
        ));
    }
    if !(rs.objective > 0.0 && rs.objective < 100.0) {
        err(format!(
            "objective: {} must be strictly between 0 and 100 (a percentage such as 99.9)",
            rs.objective
        ));
    }
    for k in rs.labels.keys() {
        if !is_label_name(k) {
            err(format!("labels: {k:?} is not a valid label name"));
        } else if k == region_label || k.starts_with("sloth_") {
            err(format!("labels: {k:?} is reserved by sloguard"));
        }
    }
    if let Some(plugins) = &rs.plugins {
        for m in compat::plugin_problems("plugins", &plugins.chain) {
            err(m);
        }
    }
    if !is_sloguard {
        for (field, set) in [
            ("period", rs.period.is_some() && !period_allowed),
            ("tiers", rs.tiers.is_some()),
            ("min_events", rs.min_events.is_some()),
            ("vantage", rs.vantage.is_some()),
            ("sli.latency", rs.sli.latency.is_some()),
        ] {
            if set {
                err(format!(
                    "{field}: only allowed with version {SLOGUARD_VERSION:?}"
                ));
            }
        }
    }

    let calendar = rs.period.as_deref().and_then(Calendar::parse);
    let period = match (calendar, rs.period.as_deref().map(Window::parse)) {
        (Some(c), _) => c.longest(),
        (None, None) => DEFAULT_PERIOD,
        (None, Some(Ok(w))) => w,
        (None, Some(Err(e))) => {
            let hint = if rs
                .period
                .as_deref()
                .is_some_and(|p| p.trim().ends_with('M'))
            {
                " (a calendar month is exactly `1M`; calendar periods are one month, week or day)"
            } else {
                ""
            };
            err(format!("period: {e}{hint}"));
            DEFAULT_PERIOD
        }
    };
    // What a tier's `budget_percent` is a share of: a calendar month counts as 30d.
    let budget_period = calendar.map_or(period, Calendar::nominal);

    let sli = {
        let kinds = [
            rs.sli.events.is_some(),
            rs.sli.raw.is_some(),
            rs.sli.latency.is_some(),
            rs.sli.plugin.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if let Some(plugin) = &rs.sli.plugin {
            err(compat::sli_plugin_problem(plugin));
            None
        } else if kinds != 1 {
            err("sli: exactly one of events, raw or latency is required".to_string());
            None
        } else if let Some(e) = rs.sli.events {
            // Sloth users often end the error query with `or on() vector(0)` so that no
            // error series reads as 0 errors. sloguard does that already (every ratio is
            // `(errors or (0 * total)) / total`, per region), and `vector(0)` cannot be
            // pinned to a region, so the clause is dropped rather than refused.
            Some(Sli::Events {
                error_query: compat::strip_or_vector0(&compat::normalise_window(&e.error_query)),
                total_query: compat::normalise_window(&e.total_query),
            })
        } else if let Some(r) = rs.sli.raw {
            Some(Sli::Raw {
                error_ratio_query: compat::normalise_window(&r.error_ratio_query),
            })
        } else if let Some(l) = rs.sli.latency {
            let mut ok = true;
            if !(l.threshold > 0.0 && l.threshold.is_finite()) {
                err(format!(
                    "sli.latency.threshold: {} must be a positive number of seconds",
                    l.threshold
                ));
                ok = false;
            }
            let selector = l.selector.unwrap_or_default();
            let sel = selector.trim();
            if !(sel.is_empty() || sel.starts_with('{') && sel.ends_with('}')) {
                err(format!("sli.latency.selector: {selector:?} must be a label selector such as '{{job=\"api\"}}'"));
                ok = false;
            }
            if l.metric.is_empty() || promql_parser::parser::parse(&l.metric).is_err() {
                err(format!(
                    "sli.latency.metric: {:?} is not a metric name",
                    l.metric
                ));
                ok = false;
            }
            ok.then_some(Sli::Latency(LatencySli {
                metric: l.metric,
                selector,
                threshold: l.threshold,
            }))
        } else {
            None
        }
    };

    let regional = sli.as_ref().and_then(|sli| {
        let pin = |field: &str, q: &str, err: &mut dyn FnMut(String)| match promql::regionalize(
            q,
            region_label,
        ) {
            Ok(t) => Some(t),
            Err(e) => {
                err(format!("{field}: {e}"));
                None
            }
        };
        match sli {
            Sli::Raw { error_ratio_query } => {
                pin("sli.raw.error_ratio_query", error_ratio_query, &mut err)
                    .map(|t| RegionalSli::Ratio { error_ratio: t })
            }
            Sli::Events { .. } | Sli::Latency(_) => {
                let (e, t) = sli.event_queries()?;
                let prefix = if matches!(sli, Sli::Latency(_)) {
                    "sli.latency"
                } else {
                    "sli.events"
                };
                let error = pin(&format!("{prefix}.error_query"), &e, &mut err);
                let total = pin(&format!("{prefix}.total_query"), &t, &mut err);
                Some(RegionalSli::Events {
                    error: error?,
                    total: total?,
                })
            }
        }
    });

    let tiers = match rs.tiers {
        None => default_tiers(),
        Some(list) => {
            if list.is_empty() {
                err("tiers: at least one tier is required".to_string());
            }
            let mut out = Vec::new();
            for (i, t) in list.into_iter().enumerate() {
                let at = format!("tiers[{i}]");
                let severity = match t.severity.as_str() {
                    "page" => Some(Severity::Page),
                    "ticket" => Some(Severity::Ticket),
                    other => {
                        err(format!(
                            "{at}.severity: {other:?} must be \"page\" or \"ticket\""
                        ));
                        None
                    }
                };
                let long = Window::parse(&t.long_window)
                    .map_err(|e| err(format!("{at}.long_window: {e}")))
                    .ok();
                let short = Window::parse(&t.short_window)
                    .map_err(|e| err(format!("{at}.short_window: {e}")))
                    .ok();
                if let (Some(l), Some(s)) = (long, short) {
                    if s >= l {
                        err(format!(
                            "{at}: short window {s} must be shorter than long window {l}"
                        ));
                    }
                    if l > period {
                        err(format!(
                            "{at}: long window {l} is longer than the period {period}"
                        ));
                    }
                }
                let factor = match (t.burn_factor, t.budget_percent, long) {
                    (Some(f), None, _) if f > 0.0 && f.is_finite() => Some(f),
                    (Some(f), None, _) => {
                        err(format!("{at}.burn_factor: {f} must be a positive number"));
                        None
                    }
                    (None, Some(b), Some(l)) if b > 0.0 && b <= 100.0 => {
                        Some(round_sig(b / 100.0 * budget_period.as_f64() / l.as_f64()))
                    }
                    (None, Some(b), _) => {
                        if !(b > 0.0 && b <= 100.0) {
                            err(format!("{at}.budget_percent: {b} must be in (0, 100]"));
                        }
                        None
                    }
                    _ => {
                        err(format!(
                            "{at}: exactly one of burn_factor or budget_percent is required"
                        ));
                        None
                    }
                };
                let for_ = match t.for_.as_deref().map(Window::parse) {
                    None => Some(None),
                    Some(Ok(w)) => Some(Some(w)),
                    Some(Err(e)) => {
                        err(format!("{at}.for: {e}"));
                        None
                    }
                };
                if let (Some(severity), Some(long), Some(short), Some(factor), Some(for_)) =
                    (severity, long, short, factor, for_)
                {
                    out.push(Tier {
                        severity,
                        long,
                        short,
                        factor,
                        for_,
                    });
                }
            }
            out
        }
    };

    let a = rs.alerting;
    let alert_name = a.name.unwrap_or_default();
    if alert_name.is_empty() && !(a.page_alert.disable && a.ticket_alert.disable) {
        err("alerting.name: required to generate alerts".to_string());
    }
    for (field, labels) in [
        ("alerting.labels", &a.labels),
        ("alerting.page_alert.labels", &a.page_alert.labels),
        ("alerting.ticket_alert.labels", &a.ticket_alert.labels),
    ] {
        for k in labels.keys() {
            if !is_label_name(k) {
                err(format!("{field}: {k:?} is not a valid label name"));
            }
        }
    }
    let min_events = rs.min_events.unwrap_or(0);
    if min_events > 0 && matches!(sli, Some(Sli::Raw { .. })) {
        err(
            "min_events: needs an events or latency SLI (a raw ratio has no event count)"
                .to_string(),
        );
    }
    if count > 0 {
        return None;
    }
    let mut labels = service_labels.clone();
    labels.extend(rs.labels);
    Some(Slo {
        name: rs.name,
        objective: rs.objective,
        description: rs.description,
        labels,
        sli: sli?,
        regional: regional?,
        alerting: Alerting {
            name: alert_name,
            labels: a.labels,
            annotations: a.annotations,
            page: AlertSpec {
                disable: a.page_alert.disable,
                labels: a.page_alert.labels,
                annotations: a.page_alert.annotations,
            },
            ticket: AlertSpec {
                disable: a.ticket_alert.disable,
                labels: a.ticket_alert.labels,
                annotations: a.ticket_alert.annotations,
            },
        },
        period,
        calendar,
        tiers,
        min_events,
        vantage: rs.vantage.unwrap_or_default(),
    })
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
