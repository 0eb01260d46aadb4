//! The built-in dashboard in headless Chromium (Debian `chromium`): a running `sloguard
//! demo` serves the page. While the demo runs, a panel exists for every SLO of the specs
//! the demo uses; after the simulated outage the DOM shows the policy's regions and
//! phase, each SLO's objective, availability, budget and burn charts with time axes and
//! tier thresholds, the chaos marking and the failover's runbook steps with durations and
//! readable descriptions. A screenshot is saved beside the test binaries.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::prom::free_port;
use common::*;

fn chromium(args: &[&str], profile: &std::path::Path) -> std::process::Output {
    Command::new(tool("chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium starts")
}

fn dump(url: &str, profile: &std::path::Path) -> String {
    let dom = chromium(&["--virtual-time-budget=8000", "--dump-dom", url], profile);
    let mut html = String::from_utf8_lossy(&dom.stdout).to_string();
    assert!(
        html.contains("id=\"slos\""),
        "no dashboard in the page:\n{html}\n{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    // The rendered DOM only: the script's own templates are no elements.
    if let (Some(a), Some(b)) = (html.find("<script>"), html.rfind("</script>")) {
        html.replace_range(a..b + "</script>".len(), "");
    }
    html
}

/// The opening tags (`<name ...>`) whose text contains `marker`.
fn tags<'a>(html: &'a str, marker: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(marker) {
        let start = rest[..i].rfind('<').unwrap();
        let end = i + rest[i..].find('>').unwrap();
        out.push(&rest[start..=end]);
        rest = &rest[end..];
    }
    out
}

/// An attribute's value in an opening tag (entities decoded as far as the tests need).
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let v = &tag[i..i + tag[i..].find('"')?];
    Some(
        v.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The dashboard's SLO panels: (data-slo, the panel's whole markup).
fn panels(html: &str) -> Vec<(String, String)> {
    html.split("<section class=\"panel\"")
        .skip(1)
        .map(|chunk| {
            let body = &chunk[..chunk.find("</section>").expect("panel closed")];
            let slo = attr(&format!("<x{body}"), "data-slo").expect("panel has data-slo");
            (slo, body.to_string())
        })
        .collect()
}

/// The text inside elements whose opening tag contains `marker`, up to their next tag.
fn texts(html: &str, marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in html.match_indices(marker) {
        let after = &html[i..];
        let Some(gt) = after.find('>') else { continue };
        let text = &after[gt + 1..];
        out.push(text[..text.find('<').unwrap_or(text.len())].to_string());
    }
    out
}

/// `demo` at `speed` on 127.0.0.1:`port` (of `scenario`, or the built-in one), its
/// timeline into `log`.
fn spawn_demo(
    port: u16,
    log: &std::path::Path,
    speed: &str,
    scenario: Option<&std::path::Path>,
) -> std::process::Child {
    let mut cmd = sloguard();
    cmd.args([
        "demo",
        "--speed",
        speed,
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    if let Some(s) = scenario {
        cmd.arg("--scenario").arg(s);
    }
    cmd.current_dir(repo())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_dashboard_shows_every_slo_the_policy_and_the_failover() {
    // The demo, run from the repository with no scenario, evaluates the specs in
    // slo-specs/: every SLO there gets a panel.
    let services = sloguard::slo::load_dir(&repo().join("slo-specs")).unwrap();
    let expected: BTreeSet<String> = services
        .iter()
        .flat_map(|s| s.slos.iter().map(move |o| format!("{}/{}", s.name, o.name)))
        .collect();
    assert!(expected.len() > 2, "the demo's specs: {expected:?}");

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("demo.log");
    let demo = Kill(spawn_demo(port, &log, "3000", None));
    let url = format!("http://127.0.0.1:{port}/");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_log().contains("Dashboard:") {
        assert!(
            Instant::now() < deadline,
            "demo did not start: {}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // While the demo runs (or just after: the panels do not wait for data either way),
    // one panel per configured SLO, none missing, each with an objective.
    let early = dump(&url, &dir.path().join("profile0"));
    println!(
        "first DOM dump taken {} the demo finished",
        if read_log().contains("demo finished") {
            "after"
        } else {
            "before"
        }
    );
    let early_panels: BTreeSet<String> = panels(&early)
        .into_iter()
        .filter(|(_, body)| !body.contains("data-builtin=\"true\""))
        .map(|(slo, _)| slo)
        .collect();
    assert_eq!(
        early_panels, expected,
        "a panel for every SLO from the start"
    );

    while !read_log().contains("demo finished") {
        assert!(
            Instant::now() < deadline,
            "demo did not finish: {}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = read_log();
    assert!(
        out.contains("DECISION")
            && out.contains("fail over us-east-1 -> eu-west-1")
            && out.contains("shift-traffic [dry_run]"),
        "{out}"
    );
    let (_, metrics) = curl(&format!("{url}metrics"));
    assert!(
        metrics.contains("sloguard_chaos 1"),
        "demo runs are tagged chaos in metrics"
    );
    let (code, body) = curl(&format!("{url}api/v1/incidents"));
    assert_eq!(code, 200, "{body}");
    let inc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(inc["chaos"], true, "{body}");
    let policy_active = inc["policy"][0]["active"].as_str().unwrap().to_string();
    assert_eq!(policy_active, "eu-west-1", "the demo fails over: {body}");
    let (code, body) = curl(&format!("{url}api/v1/slos"));
    assert_eq!(code, 200, "{body}");
    let slos: serde_json::Value = serde_json::from_str(&body).unwrap();
    let catalog: BTreeSet<String> = slos["slos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["builtin"] == false)
        .map(|s| {
            format!(
                "{}/{}",
                s["service"].as_str().unwrap(),
                s["slo"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(catalog, expected, "/api/v1/slos lists the specs' SLOs");

    let html = dump(&url, &dir.path().join("profile1"));

    // Header and region pills agree with the policy state.
    let summary = tags(&html, "id=\"summary\"");
    assert_eq!(summary.len(), 1, "{html}");
    assert_eq!(
        attr(summary[0], "data-active").as_deref(),
        Some("eu-west-1")
    );
    assert_eq!(
        attr(summary[0], "data-phase").as_deref(),
        Some("failed_over")
    );
    assert_eq!(
        texts(&html, "class=\"active-region\""),
        vec!["eu-west-1".to_string()],
        "the header names the policy's active region"
    );
    let pills = tags(&html, "class=\"pill\"");
    let pill = |region: &str| {
        pills
            .iter()
            .find(|t| attr(t, "data-region").as_deref() == Some(region))
            .unwrap_or_else(|| panic!("no pill for {region}: {pills:?}"))
            .to_string()
    };
    let (eu, us) = (pill("eu-west-1"), pill("us-east-1"));
    assert_eq!(attr(&eu, "data-role").as_deref(), Some("active"), "{eu}");
    assert_eq!(attr(&us, "data-role").as_deref(), Some("standby"), "{us}");
    for p in [&eu, &us] {
        let state = attr(p, "data-state").unwrap();
        assert!(
            [
                "healthy",
                "burning",
                "down",
                "monitoring_lost",
                "no_data",
                "degraded"
            ]
            .contains(&state.as_str()),
            "{p}"
        );
    }
    assert_eq!(
        attr(&eu, "data-state").as_deref(),
        Some("healthy"),
        "eu-west-1 was never hurt: {eu}"
    );
    assert!(
        html.contains("data-probes=\""),
        "pills show the probe state"
    );
    // One colour per region, the same in pills, legends and chart lines.
    let colour_of = |region: &str| -> BTreeSet<String> {
        let mut c = BTreeSet::new();
        for t in tags(&html, &format!("data-region=\"{region}\"")) {
            if let Some(style) = attr(t, "style") {
                if let Some(i) = style.find('#') {
                    c.insert(style[i..i + 7].to_string());
                }
            }
            if t.starts_with("<path") {
                c.insert(attr(t, "stroke").unwrap());
            }
        }
        c
    };
    let (ceu, cus) = (colour_of("eu-west-1"), colour_of("us-east-1"));
    assert!(
        ceu.len() == 1 && cus.len() == 1 && ceu != cus,
        "one distinct colour per region: {ceu:?} {cus:?}"
    );

    // Chaos: the banner and the incident are marked.
    let banner = tags(&html, "id=\"chaos-banner\"");
    assert_eq!(banner.len(), 1);
    assert_eq!(attr(banner[0], "data-chaos").as_deref(), Some("true"));
    assert!(
        attr(banner[0], "hidden").is_none() && !banner[0].contains(" hidden"),
        "the banner shows: {}",
        banner[0]
    );

    // Every SLO's panel, with its objective, availability and budget, a budget chart and
    // burn-rate charts with threshold lines and a labelled time axis.
    let all = panels(&html);
    let names: BTreeSet<String> = all
        .iter()
        .filter(|(_, b)| !b.contains("data-builtin=\"true\""))
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(names, expected);
    for (slo, body) in &all {
        let head = format!("<x{}", &body[..body.find('>').unwrap()]);
        let objective: f64 = attr(&head, "data-objective")
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{slo}: objective: {head}"));
        assert!(objective > 90.0 && objective < 100.0, "{slo}: {objective}");
        assert!(
            body.contains(&format!("{objective}%")),
            "{slo}: the objective is shown"
        );
        let facts: Vec<&str> = tags(body, "data-availability=");
        assert_eq!(facts.len(), 2, "{slo}: one fact per region: {facts:?}");
        for f in &facts {
            let a: f64 = attr(f, "data-availability")
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{slo}: availability: {f}"));
            let b: f64 = attr(f, "data-budget")
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{slo}: budget: {f}"));
            assert!((0.0..=1.0).contains(&a), "{slo}: {f}");
            assert!(b <= 1.0, "{slo}: {f}");
        }
        let charts = tags(body, "class=\"chart\"");
        let budget: Vec<_> = charts
            .iter()
            .filter(|c| attr(c, "data-kind").as_deref() == Some("budget"))
            .collect();
        assert_eq!(budget.len(), 1, "{slo}: a budget chart");
        let burn: Vec<_> = charts
            .iter()
            .filter(|c| attr(c, "data-kind").as_deref() == Some("burn"))
            .collect();
        assert!(burn.len() >= 2, "{slo}: burn charts per window");
        for c in &charts {
            let points: u64 = attr(c, "data-points").unwrap().parse().unwrap();
            assert!(points > 10, "{slo}: every chart holds data: {c}");
        }
        let svgs: Vec<&str> = body.split("<svg").skip(1).collect();
        assert_eq!(svgs.len(), charts.len());
        for svg in &svgs {
            let svg = &svg[..svg.find("</svg>").unwrap()];
            let ticks = svg
                .split("class=\"time-axis\"")
                .nth(1)
                .map(|axis| texts(&axis[..axis.find("</g>").unwrap()], "class=\"tick\""))
                .unwrap_or_default();
            assert!(
                ticks.len() >= 2
                    && ticks.iter().all(|t| {
                        let b = t.as_bytes();
                        t.len() >= 5
                            && b[b.len() - 3] == b':'
                            && t[t.len() - 2..].parse::<u8>().is_ok()
                    }),
                "{slo}: a time axis with HH:MM tick labels: {ticks:?}"
            );
            assert_eq!(
                texts(svg, "class=\"y-label\"")
                    .iter()
                    .filter(|t| !t.is_empty())
                    .count(),
                1,
                "{slo}: a y-axis label per chart"
            );
        }
        let thresholds: Vec<String> = tags(body, "class=\"threshold\"")
            .iter()
            .map(|t| attr(t, "data-threshold").unwrap())
            .collect();
        assert!(
            !thresholds.is_empty() && thresholds.iter().all(|t| t.parse::<f64>().is_ok()),
            "{slo}: tier thresholds drawn: {thresholds:?}"
        );
    }
    // The SRE Workbook tiers (checkout's) are drawn as labelled lines.
    let (_, checkout) = all
        .iter()
        .find(|(s, _)| s == "checkout/requests-availability")
        .unwrap();
    assert!(
        checkout.contains("data-threshold=\"14.4\"")
            && checkout.contains("page 14.4×")
            && checkout.contains("ticket 1×"),
        "labelled threshold lines"
    );
    // Distinct y-axis labels (not one shared one).
    let ylabels: BTreeSet<String> = texts(checkout, "class=\"y-label\"").into_iter().collect();
    assert!(ylabels.len() >= 3, "{ylabels:?}");

    // The incident timeline: the failover, chaos-marked, its outcome and duration, each
    // step's status, duration and readable description.
    let incidents = tags(&html, "class=\"incident\"");
    assert_eq!(
        incidents.len(),
        1,
        "one failover in the demo: {incidents:?}"
    );
    let i = incidents[0];
    assert_eq!(attr(i, "data-chaos").as_deref(), Some("true"), "{i}");
    assert_eq!(attr(i, "data-outcome").as_deref(), Some("dry run"), "{i}");
    assert!(
        attr(i, "data-duration").unwrap().parse::<i64>().is_ok(),
        "{i}"
    );
    assert!(
        html.contains("FAILOVER us-east-1 → eu-west-1") && html.contains("CHAOS drill"),
        "the failover is in the timeline, marked as a drill"
    );
    let steps = tags(&html, "class=\"step\"");
    assert!(steps.len() >= 2, "{steps:?}");
    for s in &steps {
        let d: i64 = attr(s, "data-duration").unwrap().parse().unwrap();
        assert!(d >= 0, "{s}");
        assert!(attr(s, "data-status").is_some(), "{s}");
    }
    let details = texts(&html, "class=\"detail\"");
    assert_eq!(details.len(), steps.len());
    for d in &details {
        assert!(!d.trim().is_empty(), "every step is described");
        for bad in ["[(", "Some(", "MessageAttributes=[", "{ "] {
            assert!(!d.contains(bad), "a Rust debug dump in a step: {d}");
        }
    }
    assert!(
        texts(&html, "class=\"dur\"")
            .iter()
            .all(|t| t.starts_with("took ")),
        "step durations are shown"
    );

    // The filter (prefilled from ?filter=) hides the other services' panels.
    let filtered = dump(
        &format!("{url}?filter=payments"),
        &dir.path().join("profile2"),
    );
    let fp = panels(&filtered);
    let shown: BTreeSet<String> = fp
        .iter()
        .filter(|(_, b)| !b[..b.find('>').unwrap()].contains(" hidden"))
        .map(|(s, _)| s.clone())
        .collect();
    let want: BTreeSet<String> = expected
        .iter()
        .filter(|s| s.contains("payments"))
        .cloned()
        .collect();
    assert!(!want.is_empty());
    assert_eq!(shown, want, "the filter shows only the matching panels");
    assert_eq!(
        fp.len(),
        all.len(),
        "filtered panels are hidden, not dropped"
    );

    // And a screenshot, kept for people to look at.
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let o = chromium(
        &[
            "--virtual-time-budget=8000",
            "--window-size=1400,2400",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
        &dir.path().join("profile3"),
    );
    drop(demo);
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&o.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot ({} bytes)",
        png.len()
    );
    println!("screenshot: {}", shot.display());
}

/// A scenario whose fault outlasts it, so the state at the end (which a finished demo
/// keeps serving) is the fault's.
fn lasting_fault_scenario(dir: &std::path::Path, name: &str, kind: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            r#"name: {name}
duration: 1h
step: 30s
specs: {specs}
config:
  regions:
    down_after: 2m
    probes:
      us-east-1: https://us-east-1.probe.example.com/healthz
      eu-west-1: https://eu-west-1.probe.example.com/healthz
traffic:
  us-east-1: {{rps: 200, error_ratio: 0.0002}}
  eu-west-1: {{rps: 200, error_ratio: 0.0002}}
faults:
  - {{kind: {kind}, region: us-east-1, start: 30m, duration: 2h}}
"#,
            specs = repo().join("slo-specs").display()
        ),
    )
    .unwrap();
    path
}

/// The region pills (data-region → (data-role, data-state, data-probes)) after a demo of
/// `scenario` has finished.
fn pills_after(
    scenario: &std::path::Path,
    dir: &std::path::Path,
) -> Vec<(String, String, String, String)> {
    let port = free_port();
    let log = dir.join(format!(
        "{}.log",
        scenario.file_stem().unwrap().to_str().unwrap()
    ));
    let _demo = Kill(spawn_demo(port, &log, "3000", Some(scenario)));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("demo finished")
    {
        assert!(
            Instant::now() < deadline,
            "demo did not finish: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let html = dump(
        &format!("http://127.0.0.1:{port}/"),
        &dir.join(format!("profile-{port}")),
    );
    let pills: Vec<(String, String, String, String)> = html
        .split("<span class=\"pill\"")
        .skip(1)
        .map(|chunk| {
            let tag = format!("<x{}", &chunk[..chunk.find('>').unwrap() + 1]);
            let probes = attr(
                &format!(
                    "<x{}",
                    &chunk[chunk.find("data-probes=").map(|i| i - 1).unwrap_or(0)..]
                ),
                "data-probes",
            )
            .unwrap_or_default();
            (
                attr(&tag, "data-region").unwrap(),
                attr(&tag, "data-role").unwrap(),
                attr(&tag, "data-state").unwrap(),
                probes,
            )
        })
        .collect();
    assert_eq!(pills.len(), 2, "{html}");
    pills
}

#[test]
fn dashboard_shows_a_region_down_and_monitoring_lost() {
    let dir = tempfile::tempdir().unwrap();
    // The active region vanishes and stays gone: failed over, the old primary down with
    // its probes failing.
    let down = pills_after(
        &lasting_fault_scenario(dir.path(), "down-to-the-end", "region_down"),
        dir.path(),
    );
    assert!(
        down.contains(&(
            "us-east-1".into(),
            "standby".into(),
            "down".into(),
            "failing".into()
        )),
        "{down:?}"
    );
    assert!(
        down.contains(&(
            "eu-west-1".into(),
            "active".into(),
            "healthy".into(),
            "ok".into()
        )),
        "{down:?}"
    );
    // Only its telemetry is gone: still active, monitoring lost, probes passing.
    let lost = pills_after(
        &lasting_fault_scenario(dir.path(), "lost-to-the-end", "no_data"),
        dir.path(),
    );
    assert!(
        lost.contains(&(
            "us-east-1".into(),
            "active".into(),
            "monitoring_lost".into(),
            "ok".into()
        )),
        "{lost:?}"
    );
    assert!(
        lost.contains(&(
            "eu-west-1".into(),
            "standby".into(),
            "healthy".into(),
            "ok".into()
        )),
        "{lost:?}"
    );
}

/// One HTTP/1.1 GET over a fresh connection; (status line, body length, time taken).
fn get(port: u16, path: &str) -> (String, usize, Duration) {
    use std::io::{Read, Write};
    let t = Instant::now();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let head = String::from_utf8_lossy(&buf[..buf.len().min(64)]).to_string();
    (
        head.lines().next().unwrap_or("").to_string(),
        buf.len(),
        t.elapsed(),
    )
}

/// A flood of full-history reads (the dashboard's largest answer, megabytes after a long
/// run) never starves the failover signal or the health check: dashboard reads build
/// their answers one at a time and the history's JSON is made once per change.
#[test]
fn a_dashboard_read_flood_never_starves_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("six-hours.yaml");
    let text = std::fs::read_to_string(repo().join("tests/gameday/primary-outage.yaml"))
        .unwrap()
        .replace("duration: 2h", "duration: 6h")
        .replace(
            "specs: ../../slo-specs",
            &format!("specs: {}", repo().join("slo-specs").display()),
        );
    std::fs::write(&scenario, text).unwrap();
    let port = free_port();
    let log = dir.path().join("demo.log");
    let _demo = Kill(spawn_demo(port, &log, "20000", Some(&scenario)));
    let deadline = Instant::now() + Duration::from_secs(90);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("demo finished")
    {
        assert!(Instant::now() < deadline, "demo did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, size, _) = get(port, "/api/v1/history");
    assert!(status.contains("200"), "{status}");
    assert!(
        size > 2_000_000,
        "a long run's history is large: {size} bytes"
    );
    // 2,161 evaluations, more than the history keeps: the page says its charts are cut.
    let html = dump(
        &format!("http://127.0.0.1:{port}/"),
        &dir.path().join("profile"),
    );
    let count = tags(&html, "id=\"count\"");
    assert_eq!(count.len(), 1, "{html}");
    assert_eq!(
        attr(count[0], "data-truncated").as_deref(),
        Some("true"),
        "{}",
        count[0]
    );
    assert!(texts(&html, "id=\"count\"")[0].contains("charts show the last 2000 evaluations"));

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood: Vec<_> = (0..12)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 200 {
                    let _ = get(port, "/api/v1/history");
                    let _ = get(port, "/api/v1/status");
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut worst = Duration::ZERO;
    let probes = Instant::now();
    let mut count = 0;
    while probes.elapsed() < Duration::from_secs(6) {
        for path in ["/v1/signal/gameday/eu-west-1", "/healthz"] {
            let (status, _, took) = get(port, path);
            assert!(status.contains("200"), "{path}: {status}");
            worst = worst.max(took);
            count += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads: usize = flood.into_iter().map(|t| t.join().unwrap()).sum();
    println!("{count} probes during {reads} flood rounds: worst {worst:?}");
    assert!(reads > 12, "the flood ran: {reads} rounds");
    // Unprotected, the same flood held these answers for 1-2 s each.
    assert!(
        worst < Duration::from_millis(500),
        "worst probe {worst:?} under the flood"
    );
}
