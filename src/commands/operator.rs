//! Operator calls to a running engine: `status` (a read) and the mutating calls
//! `failover`, `approve`, `resolve`, `rearm`, `failback` (token required; exit 0 when
//! accepted, 1 when the guards refused).

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use sloguard::app::operator_client;
use sloguard::cli::{
    ApproveArgs, FailbackArgs, FailoverArgs, Output, RearmArgs, ResolveArgs, StatusArgs, TokenArgs,
};
use sloguard::snapshot;

use super::common::code;

type Runtime = tokio::runtime::Runtime;

/// `sloguard status`: GET /api/v1/status, as text or the JSON itself.
pub fn status(rt: &Runtime, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let url = &args.url;
    let target = format!("{}/api/v1/status", url.trim_end_matches('/'));
    let (status, body) = rt.block_on(operator_client::call(
        reqwest::Method::GET,
        &target,
        None,
        None,
    ))?;
    anyhow::ensure!(status == 200, "{url}: HTTP {status}: {body}");
    match args.output {
        Output::Json => println!("{body}"),
        Output::Text => {
            let view: snapshot::StatusView =
                serde_json::from_str(&body).with_context(|| target.clone())?;
            print!("{}", view.render());
        }
    }
    Ok(code(true))
}

/// `sloguard failover`: POST /api/v1/failover.
pub fn failover(rt: &Runtime, a: FailoverArgs) -> anyhow::Result<ExitCode> {
    let body =
        json!({"domain": a.domain, "target": a.target, "reason": a.reason, "force": a.force});
    call(rt, &a.url, "/api/v1/failover", body, &a.token)
}

/// `sloguard approve`: POST /api/v1/approve/{incident}.
pub fn approve(rt: &Runtime, a: ApproveArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/api/v1/approve/{}", a.incident);
    call(rt, &a.url, &path, json!({"reason": a.reason}), &a.token)
}

/// `sloguard resolve`: POST /api/v1/incidents/{incident}/resolve.
pub fn resolve(rt: &Runtime, a: ResolveArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/api/v1/incidents/{}/resolve", a.incident);
    let body = json!({"action": a.action.replace('-', "_"), "reason": a.reason});
    call(rt, &a.url, &path, body, &a.token)
}

/// `sloguard rearm`: POST /api/v1/rearm.
pub fn rearm(rt: &Runtime, a: RearmArgs) -> anyhow::Result<ExitCode> {
    let body = json!({"domain": a.domain, "reason": a.reason});
    call(rt, &a.url, "/api/v1/rearm", body, &a.token)
}

/// `sloguard failback`: POST /api/v1/failback.
pub fn failback(rt: &Runtime, a: FailbackArgs) -> anyhow::Result<ExitCode> {
    let body =
        json!({"domain": a.domain, "target": a.target, "reason": a.reason, "force": a.force});
    call(rt, &a.url, "/api/v1/failback", body, &a.token)
}

/// A mutating operator call; exit 0 when accepted, 1 when the guards refused it.
fn call(
    rt: &Runtime,
    url: &str,
    path: &str,
    body: serde_json::Value,
    token: &TokenArgs,
) -> anyhow::Result<ExitCode> {
    let file = token
        .token_file
        .as_ref()
        .context("--token-file (or SLOGUARD_API_TOKEN_FILE) is required for operator calls")?;
    let target = format!("{}{path}", url.trim_end_matches('/'));
    let (status, text) = rt.block_on(operator_client::call(
        reqwest::Method::POST,
        &target,
        Some(body),
        Some(file),
    ))?;
    println!("{}", sloguard::text::escape_control(&text));
    match status {
        200 => Ok(code(true)),
        409 => Ok(code(false)),
        _ => anyhow::bail!("HTTP {status}"),
    }
}
