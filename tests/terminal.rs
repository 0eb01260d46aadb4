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
