//! The built-in dashboard in headless Chromium (Debian `chromium`): a running `sloguard
//! demo` serves the page; after the simulated outage the charts hold data and the
//! timeline shows the failover. A screenshot is saved beside the test binaries.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

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

#[test]
fn demo_dashboard_shows_charts_and_the_failover() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("demo.log");
    let mut demo = sloguard()
        .args([
            "demo",
            "--speed",
            "3000",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(repo())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(
        out.contains("DECISION")
            && out.contains("fail over us-east-1 -> eu-west-1")
            && out.contains("shift-traffic [dry_run]"),
        "{out}"
    );
    let url = format!("http://127.0.0.1:{port}/");
    let (_, metrics) = curl(&format!("{url}metrics"));
    assert!(
        metrics.contains("sloguard_chaos 1"),
        "demo runs are tagged chaos in metrics"
    );
    let dom = chromium(
        &["--virtual-time-budget=8000", "--dump-dom", &url],
        &dir.path().join("profile1"),
    );
    let html = String::from_utf8_lossy(&dom.stdout).to_string();
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(
        html.contains("class=\"chart\""),
        "no chart in the page:\n{}\n{}",
        html,
        String::from_utf8_lossy(&dom.stderr)
    );
    let points: Vec<u64> = html
        .split("data-points=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect();
    assert!(
        !points.is_empty() && points.iter().all(|p| *p > 10),
        "every chart holds data: {points:?}"
    );
    assert!(
        html.contains("class=\"incident\"") && html.contains("FAILOVER us-east-1 → eu-west-1"),
        "the failover is in the timeline"
    );
    assert!(
        html.contains("data-state=\"healthy\""),
        "region states are shown"
    );

    // And a screenshot, kept for people to look at.
    let mut demo = sloguard()
        .args([
            "demo",
            "--speed",
            "3000",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(repo())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("demo finished")
    {
        assert!(
            Instant::now() < deadline + Duration::from_secs(60),
            "second demo did not finish"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let o = chromium(
        &[
            "--virtual-time-budget=8000",
            "--window-size=1400,1100",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
        &dir.path().join("profile2"),
    );
    let _ = demo.kill();
    let _ = demo.wait();
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&o.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot ({} bytes)",
        png.len()
    );
    println!("screenshot: {}", shot.display());
}
