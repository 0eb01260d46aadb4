//! `sloguard route53 plan|apply`: the data-plane failover set-up of every domain that has
//! a `route53:` section, printed, and (apply) made with the SDK.

use crate::actuator::route53_setup;
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum Route53Error {
    #[error("{file}: {message}")]
    Config { file: String, message: String },
    #[error("route53 apply for {domain}: {message}")]
    Apply { domain: String, message: String },
}

/// Plans (and with `apply`, makes) the set-up; returns the text to print.
pub async fn run_for_config(cfg: &Config, apply: bool) -> Result<String, Route53Error> {
    let file = cfg.file.display().to_string();
    let problem = |message: &str| Route53Error::Config {
        file: file.clone(),
        message: message.to_string(),
    };
    let fo = cfg
        .failover
        .as_ref()
        .ok_or_else(|| problem("the configuration has no failover section"))?;
    let active = cfg
        .regions
        .active
        .clone()
        .ok_or_else(|| problem("regions.active is required"))?;
    let standby = cfg
        .regions
        .standby
        .first()
        .cloned()
        .ok_or_else(|| problem("regions.standby is required"))?;
    let mut out = String::new();
    for d in &fo.domains {
        let Some(setup) = &d.route53 else { continue };
        let plan =
            route53_setup::plan(&d.name, &active, &standby, fo.policy.quorum as usize, setup)
                .map_err(|e| problem(&format!("failover.domains {}: {e}", d.name)))?;
        out.push_str(&route53_setup::render(&plan, setup));
        if apply {
            let conf = crate::actuator::aws::sdk_config(&fo.aws_region).await;
            let client = aws_sdk_route53::Client::new(&conf);
            let (ids, calculated) =
                route53_setup::apply(&client, &plan, setup)
                    .await
                    .map_err(|message| Route53Error::Apply {
                        domain: d.name.clone(),
                        message,
                    })?;
            out.push_str(&format!(
                "applied: replica health checks {}, quorum check {calculated}\n",
                ids.join(", ")
            ));
        }
    }
    Ok(out)
}
