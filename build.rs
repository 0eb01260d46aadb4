//! Stamps the binary with the Git commit it was built from, for `sloguard --version`.
//!
//! `SLOGUARD_GIT_COMMIT` in the environment wins (a build from a tarball or inside an
//! image build that knows its commit); otherwise `git rev-parse` in the crate's directory,
//! with `-dirty` appended when tracked files differ from that commit. Outside a Git
//! checkout (`cargo install` from a registry or a tarball) the commit is `unknown`: the
//! build never fails for want of Git.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=SLOGUARD_GIT_COMMIT");
    let commit = match std::env::var("SLOGUARD_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => match git(&dir, &["rev-parse", "--short=12", "HEAD"]) {
            Some(head) => {
                // Rebuild when HEAD moves, a commit lands, or a tracked file changes.
                for p in ["HEAD", "index", "packed-refs"] {
                    if let Some(path) = git(&dir, &["rev-parse", "--git-path", p]) {
                        println!("cargo:rerun-if-changed={}", dir.join(path).display());
                    }
                }
                if let Some(r) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
                    if let Some(path) = git(&dir, &["rev-parse", "--git-path", &r]) {
                        println!("cargo:rerun-if-changed={}", dir.join(path).display());
                    }
                }
                for p in ["src", "Cargo.toml", "Cargo.lock", "build.rs"] {
                    println!("cargo:rerun-if-changed={p}");
                }
                let dirty = git(&dir, &["status", "--porcelain", "--untracked-files=no"])
                    .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{head}-dirty")
                } else {
                    head
                }
            }
            None => "unknown".to_string(),
        },
    };
    println!("cargo:rustc-env=SLOGUARD_GIT_COMMIT={commit}");
}
