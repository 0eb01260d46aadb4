//! AWS set-up from the config: `iam-policy` (least privilege for the runbook steps) and
//! `route53` (plan or apply the data-plane failover records and health checks).

use std::process::ExitCode;

use sloguard::cli::{IamPolicyArgs, Route53Action, Route53Args};
use sloguard::{app, config};

use super::common::{code, failover_section, json};

/// `sloguard iam-policy`: the IAM policy for exactly the configured steps.
pub fn iam_policy(args: IamPolicyArgs) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.config)?;
    let fo = failover_section(&cfg, "")?;
    let steps: Vec<_> = fo.domains.iter().flat_map(|d| d.runbook.iter()).collect();
    json(&sloguard::actuator::iam_policy(&steps))?;
    Ok(code(true))
}

/// `sloguard route53 plan|apply`.
pub fn route53(rt: &tokio::runtime::Runtime, args: Route53Args) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.config)?;
    let apply = args.action == Route53Action::Apply;
    let text = rt.block_on(app::route53::run_for_config(&cfg, apply))?;
    print!("{text}");
    Ok(code(true))
}
