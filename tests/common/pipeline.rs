//! The path an imported spec takes in a user's repository: `import` → `validate` →
//! `generate` → `promtool check rules` on every rule file and `promtool test rules` on
//! every generated unit test. Each step must succeed; the output is returned for
//! assertions.

use std::path::{Path, PathBuf};

use super::{run, sloguard, text, tool};

/// What the pipeline wrote: the imported specs and the generated rules.
pub struct Imported {
    pub specs: PathBuf,
    pub rules: PathBuf,
    /// The import's stdout and stderr.
    pub log: String,
}

impl Imported {
    /// A generated rule file's text.
    pub fn rules_of(&self, service: &str) -> String {
        std::fs::read_to_string(self.rules.join(format!("{service}.yaml")))
            .unwrap_or_else(|e| panic!("rules/{service}.yaml: {e}"))
    }
}

/// Runs the pipeline on `files` (format `pyrra` or `openslo`) under `dir`; panics with
/// the failing step's output. `min_tests` is how many promtool test files must exist.
pub fn import_to_promtool(format: &str, files: &[&Path], dir: &Path, min_tests: usize) -> Imported {
    let specs = dir.join("specs");
    let rules = dir.join("rules");
    let o = run(sloguard()
        .args(["import", format])
        .args(files)
        .arg("--out")
        .arg(&specs));
    let log = text(&o);
    assert!(o.status.success(), "import {format}:\n{log}");
    let o = run(sloguard().arg("validate").arg("--specs").arg(&specs));
    assert!(o.status.success(), "validate:\n{}", text(&o));
    let o = run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(&specs)
        .arg("--out")
        .arg(&rules));
    assert!(o.status.success(), "generate:\n{}", text(&o));
    let mut rule_files = Vec::new();
    for e in std::fs::read_dir(&rules).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) == Some("yaml") {
            rule_files.push(p);
        }
    }
    assert!(!rule_files.is_empty(), "no rule file generated");
    let o = run(std::process::Command::new(tool("promtool"))
        .args(["check", "rules"])
        .args(&rule_files)
        .current_dir(&rules));
    assert!(o.status.success(), "promtool check rules:\n{}", text(&o));
    let mut tests = Vec::new();
    if let Ok(entries) = std::fs::read_dir(rules.join("tests")) {
        for e in entries {
            tests.push(e.unwrap().path());
        }
    }
    assert!(
        tests.len() >= min_tests,
        "{} promtool test file(s), expected at least {min_tests}",
        tests.len()
    );
    for t in &tests {
        let o = run(std::process::Command::new(tool("promtool"))
            .args(["test", "rules"])
            .arg(t.strip_prefix(&rules).unwrap())
            .current_dir(&rules));
        assert!(
            o.status.success(),
            "promtool test rules {}:\n{}",
            t.display(),
            text(&o)
        );
    }
    Imported { specs, rules, log }
}
