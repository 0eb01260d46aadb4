//! The terminal (issue: operator experience): `demo` on a pseudo-TTY prints each event
//! once, in aligned columns; colour only on a TTY and never with `NO_COLOR`; piped output
//! is plain text.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::*;

/// Runs `demo --exit-when-done` under a pseudo-TTY (util-linux `script`) with `env`.
fn demo_on_a_tty(env: &[(&str, &str)]) -> String {
    let bin = env!("CARGO_BIN_EXE_sloguard");
    let mut cmd = std::process::Command::new(tool("script"));
    cmd.args([
        "-qec",
        &format!("{bin} demo --exit-when-done --speed 20000 --listen 127.0.0.1:0"),
        "/dev/null",
    ])
    .current_dir(repo());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = run(&mut cmd);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

fn once(out: &str, needle: &str) {
    let n = out.matches(needle).count();
    assert_eq!(n, 1, "{needle:?} printed {n} times:\n{out}");
}

#[test]
fn each_event_once_and_colour_only_where_it_belongs() {
    let out = demo_on_a_tty(&[]);
    once(&out, "DECISION");
    once(&out, "fail over us-east-1 -> eu-west-1");
    once(&out, "shift-traffic [dry_run]");
    once(&out, "page-oncall [dry_run]");
    once(&out, "demo finished");
    // No log line repeats a decision the timeline already shows.
    for dup in [
        "starting failover runbook",
        "failover notice",
        "alert transition",
    ] {
        assert!(
            !out.contains(dup),
            "{dup:?} repeats a timeline event:\n{out}"
        );
    }
    // Aligned: every timeline line starts with the same time column.
    for l in out
        .lines()
        .filter(|l| l.contains("DECISION") || l.contains("[dry_run]"))
    {
        let l = l.trim_start_matches('\r');
        assert!(
            l.len() > 10
                && l.as_bytes()[2] == b'h'
                && l.as_bytes()[5] == b'm'
                && l.as_bytes()[8] == b's',
            "not aligned: {l:?}"
        );
    }
    let plain = demo_on_a_tty(&[("NO_COLOR", "1")]);
    assert!(
        !plain.contains('\u{1b}'),
        "colour despite NO_COLOR:\n{plain}"
    );
    // Piped (no TTY): no colour either.
    let o = run(sloguard().current_dir(repo()).args([
        "demo",
        "--exit-when-done",
        "--speed",
        "20000",
        "--listen",
        "127.0.0.1:0",
    ]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains('\u{1b}'), "{}", text(&o));
    once(&text(&o), "DECISION");
}

/// Long work shows a progress bar on a terminal and nothing extra when piped: a 7-day,
/// two-region backtest under a pseudo-TTY draws `backtest [===>  ]  N%`; the same run
/// with stderr piped writes nothing there.
#[test]
fn backtest_progress_bar_only_on_a_terminal() {
    use sloguard::sim::{self, CounterScenario, RegionTraffic};
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    write_specs(
        &specs,
        &[(
            "api.yaml",
            &sloth_spec(
                "api",
                r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#,
                r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#,
            ),
        )],
    );
    let regions = ["us-east-1", "eu-west-1"].map(|r| RegionTraffic {
        region: r.into(),
        rps: 100.0,
        error_ratio: 0.001,
    });
    let data = dir.path().join("week.om");
    let scenario = CounterScenario {
        start: 1_790_000_000 / 86_400 * 86_400,
        duration: 7 * 86_400,
        interval: 30,
        job: "api".into(),
        regions: regions.to_vec(),
        outages: Vec::new(),
    };
    std::fs::write(&data, sim::openmetrics(&scenario)).unwrap();
    let bin = env!("CARGO_BIN_EXE_sloguard");
    let line = format!(
        "{bin} backtest --specs {} --data {} > /dev/null",
        specs.display(),
        data.display()
    );
    let tty = run(std::process::Command::new(tool("script")).args(["-qec", &line, "/dev/null"]));
    assert!(tty.status.success(), "{}", text(&tty));
    let drawn = String::from_utf8_lossy(&tty.stdout);
    assert!(
        drawn.contains("backtest [") && drawn.contains('%'),
        "no bar on a TTY: {drawn:?}"
    );
    assert!(drawn.contains("=>"), "the bar never moved: {drawn:?}");

    let piped = run(sloguard()
        .args(["backtest", "--specs"])
        .arg(&specs)
        .arg("--data")
        .arg(&data));
    assert!(piped.status.success(), "{}", text(&piped));
    assert!(
        piped.stderr.is_empty(),
        "piped stderr: {:?}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(
        String::from_utf8_lossy(&piped.stdout).contains("alerts"),
        "the report itself"
    );
}

/// Generating many SLOs shows a bar on a terminal too, and nothing extra when piped.
#[test]
fn generate_progress_bar_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    let files: Vec<(String, String)> = (0..300)
        .map(|i| {
            let service = format!("svc{i:03}");
            let spec = sloth_spec(
                &service,
                r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#,
                r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#,
            );
            (format!("{service}.yaml"), spec)
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    write_specs(&specs, &refs);
    let bin = env!("CARGO_BIN_EXE_sloguard");
    let line = format!(
        "{bin} generate --specs {} --out {} > /dev/null",
        specs.display(),
        dir.path().join("tty-rules").display()
    );
    let tty = run(std::process::Command::new(tool("script")).args(["-qec", &line, "/dev/null"]));
    assert!(tty.status.success(), "{}", text(&tty));
    let drawn = String::from_utf8_lossy(&tty.stdout);
    assert!(drawn.contains("generate ["), "no bar on a TTY: {drawn:?}");

    let piped = run(sloguard()
        .args(["generate", "--specs"])
        .arg(&specs)
        .arg("--out")
        .arg(dir.path().join("piped-rules")));
    assert!(piped.status.success(), "{}", text(&piped));
    assert!(
        piped.stderr.is_empty(),
        "piped stderr: {:?}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(dir.path().join("piped-rules/svc299.yaml").is_file());
}
