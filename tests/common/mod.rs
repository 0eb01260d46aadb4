//! Shared helpers for integration tests: the sloguard binary, external tools (a missing
//! tool fails the test with a clear message, never skips it), and temp spec directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn sloguard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sloguard"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path of an external tool; panics (fails the test) when it is not installed.
pub fn tool(name: &str) -> PathBuf {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .expect("sh runs");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !path.is_empty(),
        "required tool `{name}` is not installed: run the README's test command (scripts/test.sh), which installs it"
    );
    PathBuf::from(path)
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("command starts")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn write_specs(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
}

/// A minimal valid Sloth spec with the given SLI queries.
pub fn sloth_spec(service: &str, error_query: &str, total_query: &str) -> String {
    format!(
        r#"version: "prometheus/v1"
service: "{service}"
labels:
  owner: team
slos:
  - name: "availability"
    objective: 99.9
    sli:
      events:
        error_query: '{error_query}'
        total_query: '{total_query}'
    alerting:
      name: {service}Burn
      page_alert:
        labels:
          severity: critical
      ticket_alert:
        labels:
          severity: warning
"#
    )
}
pub mod moto;
pub mod prom;
