//! The `regions:` section: the region label, the active region and its standbys, the
//! endpoint probed from outside each region, and when outside evidence may call a
//! region down.

use std::collections::BTreeMap;

use super::raw::{RawProbe, RawRegions};
use super::{window_or, Checked, Ctx, ProbeConfig, ProbeExpect, RegionsConfig, SourceConfig};

/// Validates `regions:`; `region_sources` (from `source.regions`) must name the same
/// regions.
pub(super) fn validate(
    ctx: &Ctx,
    raw: RawRegions,
    region_sources: &BTreeMap<String, SourceConfig>,
) -> Checked<RegionsConfig> {
    let f = &ctx.f;
    let mut problems = Vec::new();
    let probes = raw
        .probes
        .iter()
        .map(|(r, p)| (r.clone(), probe(ctx, r, p, &mut problems)))
        .collect();
    let down_after = window_or(
        &mut problems,
        f,
        "regions.down_after",
        raw.down_after.as_deref(),
        "2m",
    );
    let probe_failures = raw.probe_failures.unwrap_or(3);
    if probe_failures == 0 {
        problems.push(format!("{f}: regions.probe_failures: must be at least 1"));
    }
    let regions = RegionsConfig {
        label: raw
            .label
            .unwrap_or_else(|| crate::slo::DEFAULT_REGION_LABEL.to_string()),
        active: raw.active,
        standby: raw.standby,
        probes,
        down_after: down_after.secs() as i64,
        probe_failures: probe_failures.max(1),
    };
    problems.extend(membership_problems(f, &regions, region_sources));
    Checked::new(regions, problems)
}

/// Regions named under probes or sources must be configured, every configured region
/// needs its own source (when sources are per region), and each region has one role.
fn membership_problems(
    f: &str,
    regions: &RegionsConfig,
    region_sources: &BTreeMap<String, SourceConfig>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for r in regions.probes.keys().chain(region_sources.keys()) {
        if regions.active.is_some() && !regions.all().contains(r) {
            problems.push(format!(
                "{f}: {r:?} (under regions.probes or source.regions) is neither the active region nor a standby"
            ));
        }
    }
    if !region_sources.is_empty() {
        for r in regions.all() {
            if !region_sources.contains_key(&r) {
                problems.push(format!(
                    "{f}: source.regions: no server for region {r:?}: every region needs its own"
                ));
            }
        }
    }
    for (i, r) in regions.standby.iter().enumerate() {
        if regions.standby[..i].contains(r) {
            problems.push(format!(
                "{f}: regions.standby[{i}]: duplicate standby region {r:?}"
            ));
        }
    }
    if let Some(a) = &regions.active {
        if regions.standby.contains(a) {
            problems.push(format!(
                "{f}: regions.standby: the active region {a:?} cannot also be a standby"
            ));
        }
    }
    problems
}

/// One region's probe (`regions.probes.<region>`): a URL, or the URL with its interval,
/// timeout and expected status.
fn probe(ctx: &Ctx, region: &str, p: &RawProbe, problems: &mut Vec<String>) -> ProbeConfig {
    let f = &ctx.f;
    let field = format!("regions.probes.{region}");
    let (url, interval, timeout, expect) = match p {
        RawProbe::Url(u) => (u.clone(), None, None, None),
        RawProbe::Full {
            url,
            interval,
            timeout,
            expect,
        } => (
            url.clone(),
            interval.clone(),
            timeout.clone(),
            expect.clone(),
        ),
    };
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || reqwest::Url::parse(&url).is_err()
    {
        problems.push(format!("{f}: {field}.url: {url:?} is not an http(s) URL"));
    }
    let interval = window_or(
        problems,
        f,
        &format!("{field}.interval"),
        interval.as_deref(),
        "10s",
    );
    let timeout = window_or(
        problems,
        f,
        &format!("{field}.timeout"),
        timeout.as_deref(),
        "2s",
    );
    if timeout > interval {
        problems.push(format!(
            "{f}: {field}.timeout: {timeout} must not exceed the interval {interval}"
        ));
    }
    let expect = match expect.as_ref().map(probe_expect) {
        None => ProbeExpect::Class(2),
        Some(Ok(e)) => e,
        Some(Err(e)) => {
            problems.push(format!("{f}: {field}.expect: {e}"));
            ProbeExpect::Class(2)
        }
    };
    ProbeConfig {
        url,
        interval,
        timeout,
        expect,
    }
}

/// A probe's `expect`: `2xx`-style class or one status code.
fn probe_expect(v: &serde_yaml_ng::Value) -> Result<ProbeExpect, String> {
    let text = match v {
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return Err("must be a status code or a class such as 2xx".into()),
    };
    if let Some(c) = text.strip_suffix("xx") {
        return match c.parse::<u16>() {
            Ok(c) if (1..=5).contains(&c) => Ok(ProbeExpect::Class(c)),
            _ => Err(format!("{text:?} is not a status class (1xx..5xx)")),
        };
    }
    match text.parse::<u16>() {
        Ok(s) if (100..=599).contains(&s) => Ok(ProbeExpect::Status(s)),
        _ => Err(format!("{text:?} is not a status code or class")),
    }
}
