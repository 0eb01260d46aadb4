//! The runbook step kinds, one file each, and the registry that maps a `kind:` string to
//! the parser of that kind. Adding a kind means writing `steps/<kind>.rs` (a config
//! struct with `deny_unknown_fields`, its `pub const KIND`, an `impl Step`), declaring
//! the module and listing its `KIND` in [`KINDS`]; nothing else in the actuator matches
//! on kinds. (The `mod` lines are not generated from the registry by a macro because
//! rustfmt does not format modules declared inside macros.)

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::step::Step;

/// Builds a step of one kind from its config: the `runbook:` entry without `kind` and
/// without the keys every step shares (`name`, `timeout`, …).
pub type Parser = fn(serde_yaml_ng::Value) -> Result<Arc<dyn Step>, serde_yaml_ng::Error>;

/// A registered step kind: its `kind:` string and its parser. Each kind file declares
/// its own as `pub const KIND: Kind = Kind::of::<Config>("name")`.
#[derive(Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    pub parse: Parser,
}

impl Kind {
    pub const fn of<T: Step + DeserializeOwned + 'static>(name: &'static str) -> Kind {
        Kind {
            name,
            parse: parser::<T>,
        }
    }
}

fn parser<T: Step + DeserializeOwned + 'static>(
    config: serde_yaml_ng::Value,
) -> Result<Arc<dyn Step>, serde_yaml_ng::Error> {
    Ok(Arc::new(serde_yaml_ng::from_value::<T>(config)?))
}

pub mod aurora_global;
pub mod exec;
pub mod http;
pub mod route53_health_check;
pub mod route53_records;
pub mod route53_signal;
pub mod slack;
pub mod sns;

/// The registry: every step kind, one line each.
pub const KINDS: &[Kind] = &[
    sns::KIND,
    route53_signal::KIND,
    route53_records::KIND,
    route53_health_check::KIND,
    aurora_global::KIND,
    http::KIND,
    exec::KIND,
    slack::KIND,
];

/// Builds the step of `kind` from `config`. An unknown kind is reported the way serde
/// reports an unknown enum variant (the wording config errors have always used), with
/// the valid kinds listed.
pub fn build(kind: &str, config: serde_yaml_ng::Value) -> Result<Arc<dyn Step>, String> {
    match KINDS.iter().find(|k| k.name == kind) {
        Some(k) => (k.parse)(config).map_err(|e| e.to_string()),
        None => Err(format!(
            "unknown variant `{kind}`, expected one of {}",
            valid_kinds()
        )),
    }
}

/// The valid kinds as `` `sns`, `route53_signal`, … `` for error messages.
pub fn valid_kinds() -> String {
    KINDS
        .iter()
        .map(|k| format!("`{}`", k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
