//! The on-disk shape of a spec file: Sloth `prometheus/v1` and its superset `sloguard/v1`.
//!
//! These structs mirror the YAML exactly. Unknown keys are not refused here: the loader
//! deserialises through `serde_ignored`, which names every ignored key, and then makes it
//! an error (`sloguard/v1`) or a warning (Sloth's `prometheus/v1`, which Sloth itself reads
//! leniently). The normalised model in [`super`] is built from them after validation.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

pub type LabelMap = BTreeMap<String, String>;

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Spec")]
pub struct RawSpec {
    /// `sloguard/v1`, or Sloth's `prometheus/v1`.
    #[schemars(extend("enum" = ["sloguard/v1", "prometheus/v1"]))]
    pub version: String,
    /// Letters, digits, `-`, `_` and `.`; a service may be split over several files.
    pub service: String,
    /// Added to every rule.
    #[serde(default)]
    pub labels: LabelMap,
    /// sloguard/v1 only.
    #[serde(default)]
    pub region_label: Option<String>,
    /// Sloth's SLO plugin chain, for every SLO of the spec.
    #[serde(default)]
    pub slo_plugins: Option<RawPlugins>,
    #[serde(default)]
    pub slos: Vec<RawSlo>,
    /// The Kubernetes object this spec came from (the `PrometheusServiceLevel` form).
    #[serde(skip)]
    #[schemars(skip)]
    pub object: Option<super::K8sObject>,
}

/// Sloth's SLO plugin chain (`slo_plugins:` of a spec, `plugins:` of an SLO). sloguard
/// runs no plugin code: Sloth's built-in plugins whose effect it already has load with
/// no effect, any other id is refused.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Plugins")]
pub struct RawPlugins {
    /// Sloth: drop the default plugins. Read and not used (sloguard's rules are fixed).
    #[serde(default)]
    #[allow(dead_code)]
    pub overwrite_defaults: bool,
    #[serde(default)]
    pub chain: Vec<RawPluginRef>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "PluginRef")]
pub struct RawPluginRef {
    pub id: String,
    /// Read and not used.
    #[serde(default)]
    #[allow(dead_code)]
    pub priority: Option<i64>,
    /// Read and not used.
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub config: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Slo")]
pub struct RawSlo {
    /// Unique within the service.
    pub name: String,
    /// Percent, strictly between 0 and 100 (99.9).
    pub objective: f64,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub labels: LabelMap,
    pub sli: RawSli,
    #[serde(default)]
    pub alerting: RawAlerting,
    /// sloguard/v1 only: a rolling window (`30d`, `4w`), or a calendar period whose budget
    /// resets at each UTC boundary: `1M` (or `calendar_month`), `calendar_week` (from
    /// Monday 00:00), `calendar_day`.
    #[serde(default)]
    pub period: Option<String>,
    /// sloguard/v1 only.
    #[serde(default)]
    pub tiers: Option<Vec<RawTier>>,
    /// sloguard/v1 only.
    #[serde(default)]
    pub min_events: Option<u64>,
    /// sloguard/v1 only: `external` when the SLI measures the region from outside it
    /// (a blackbox probe scraped in another region); its burning is evidence that the
    /// region is down when the region's own telemetry is gone.
    #[serde(default)]
    pub vantage: Option<super::Vantage>,
    /// Sloth's SLO plugin chain of this SLO.
    #[serde(default)]
    pub plugins: Option<RawPlugins>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Sli")]
pub struct RawSli {
    #[serde(default)]
    pub events: Option<RawEvents>,
    #[serde(default)]
    pub raw: Option<RawRatio>,
    /// sloguard/v1 only.
    #[serde(default)]
    pub latency: Option<RawLatency>,
    /// Accepted so Sloth files load, then reported: plugins run Go code sloguard lacks.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub plugin: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Events")]
pub struct RawEvents {
    pub error_query: String,
    pub total_query: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Ratio")]
pub struct RawRatio {
    pub error_ratio_query: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Latency")]
pub struct RawLatency {
    pub metric: String,
    #[serde(default)]
    pub selector: Option<String>,
    pub threshold: f64,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Alerting")]
pub struct RawAlerting {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub labels: LabelMap,
    #[serde(default)]
    pub annotations: LabelMap,
    #[serde(default)]
    pub page_alert: RawAlert,
    #[serde(default)]
    pub ticket_alert: RawAlert,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Alert")]
pub struct RawAlert {
    #[serde(default)]
    pub disable: bool,
    #[serde(default)]
    pub labels: LabelMap,
    #[serde(default)]
    pub annotations: LabelMap,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Tier")]
pub struct RawTier {
    pub severity: String,
    #[serde(alias = "long")]
    pub long_window: String,
    #[serde(alias = "short")]
    pub short_window: String,
    #[serde(default, alias = "factor", alias = "burn_rate")]
    pub burn_factor: Option<f64>,
    #[serde(default, alias = "budget_consumed")]
    pub budget_percent: Option<f64>,
    /// How long the tier must hold before its alert fires (the alert rule's `for:`).
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
}

/// Sloth's Kubernetes form: `apiVersion: sloth.slok.dev/v1`, `kind: PrometheusServiceLevel`,
/// the spec under `spec:`. Its camelCase keys (`errorQuery`, `pageAlert`, ...) are renamed
/// to the snake_case of [`RawSlo`] in the text before it is read (lines are kept).
#[derive(Debug, Deserialize)]
pub struct RawCrd {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    /// Kubernetes object metadata: `name` and `namespace` name the PrometheusRule that
    /// `generate --format prometheus-operator` writes back for it.
    #[serde(default)]
    pub metadata: Option<serde_yaml_ng::Value>,
    pub spec: RawCrdSpec,
}

#[derive(Debug, Deserialize)]
pub struct RawCrdSpec {
    pub service: String,
    #[serde(default)]
    pub labels: LabelMap,
    #[serde(default)]
    pub slo_plugins: Option<RawPlugins>,
    #[serde(default)]
    pub slos: Vec<RawSlo>,
}

impl RawCrd {
    /// The spec as a `prometheus/v1`-shaped spec whose version is the `apiVersion`.
    pub fn into_spec(self) -> RawSpec {
        let meta = |key: &str| {
            self.metadata
                .as_ref()
                .and_then(|m| m.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let object = meta("name").map(|name| super::K8sObject {
            name,
            namespace: meta("namespace"),
        });
        RawSpec {
            object,
            version: self.api_version,
            service: self.spec.service,
            labels: self.spec.labels,
            region_label: None,
            slo_plugins: self.spec.slo_plugins,
            slos: self.spec.slos,
        }
    }
}
