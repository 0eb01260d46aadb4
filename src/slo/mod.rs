//! The SLO specs: loading `slo-specs/**/*.yaml` (Sloth `prometheus/v1` unchanged, or
//! the superset `sloguard/v1`), validating it, and normalising it into [`Service`]s.
//!
//! Parsing and validation are pure functions of (file name, text); [`load_dir`] is the
//! thin shell that reads a directory tree. Every problem found is returned at once as a
//! [`Problem`] (`file: slo: message`), never just the first. A file may hold several
//! YAML documents (`---`), each a spec; one service may be split over several documents
//! or files as long as its SLO names differ. Unknown keys of Sloth's format are warnings
//! ([`Loaded::warnings`]), of `sloguard/v1` errors.
//!
//! The rooms, in the order data passes through them:
//! - `load`: directories and files, and the merge of a service split over files.
//! - `document`: one file's documents, each read in its format (`raw` for Sloth and
//!   `sloguard/v1`, `compat` for Sloth's quirks and its Kubernetes form, `openslo` for
//!   OpenSLO v1alpha), unknown keys, the service-level fields. A new spec format is read
//!   into `raw::RawSpec` here (as `openslo` does) and dispatched in `read_format`.
//! - `validate`: one SLO's fields; `normalise`: its period, SLI, regional queries, tiers.
//! - `model`: the types every other module reads.

mod compat;
mod document;
mod load;
mod model;
mod normalise;
mod openslo;
mod raw;
mod validate;

pub use crate::calendar::Calendar;
use crate::window::Window;

pub use document::json_schema;
pub use load::{load_dir, load_dir_with_warnings, parse_all, parse_all_with_warnings, Loaded};
pub use model::*;
pub use openslo::OPENSLO_V1ALPHA;
pub use raw::LabelMap;

pub const SLOTH_VERSION: &str = "prometheus/v1";
pub const SLOGUARD_VERSION: &str = "sloguard/v1";
/// The `apiVersion` and `kind` of Sloth's Kubernetes form, read like `prometheus/v1`.
pub const SLOTH_CRD_VERSION: &str = "sloth.slok.dev/v1";
pub const SLOTH_CRD_KIND: &str = "PrometheusServiceLevel";
pub const DEFAULT_REGION_LABEL: &str = "region";
pub const DEFAULT_PERIOD: Window = Window::days(30);
