//! What only the loaded specs reveal about a config: failover domains gated by SLOs that
//! no spec defines.

use super::{Config, ConfigError};

/// The problems of `cfg` that only the loaded specs reveal: a failover domain whose
/// `slos:` names an SLO (`service/slo`) that no spec defines would never fail over.
/// Every command that reads both the config and its specs calls it before acting.
pub fn check_against_specs(
    cfg: &Config,
    services: &[crate::slo::Service],
) -> Result<(), ConfigError> {
    let Some(fo) = &cfg.failover else {
        return Ok(());
    };
    let f = cfg.file.display();
    let known: Vec<String> = services
        .iter()
        .flat_map(|s| {
            s.slos
                .iter()
                .map(move |slo| format!("{}/{}", s.name, slo.name))
        })
        .collect();
    let mut problems = Vec::new();
    for (i, d) in fo.domains.iter().enumerate() {
        for (j, id) in d.slos.iter().enumerate() {
            if !known.contains(id) {
                problems.push(format!(
                    "{f}: failover.domains[{i}].slos[{j}]: unknown SLO {id:?} (known, as service/slo: {})",
                    known_list(&known)
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// The known SLO ids for a message: all of them up to 20, then how many more.
fn known_list(known: &[String]) -> String {
    const SHOWN: usize = 20;
    if known.is_empty() {
        return "none: the specs define no SLO".into();
    }
    let mut out = known
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if known.len() > SHOWN {
        out.push_str(&format!(" and {} more", known.len() - SHOWN));
    }
    out
}
