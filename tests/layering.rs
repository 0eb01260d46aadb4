//! The layout flows one way (DESIGN.md): the module import graph of `src/` (every
//! `crate::<module>` a file names) has no circle, nothing below the app layer names the
//! app, the server or the CLI, and the pure modules name no I/O module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its files name.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let re = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(&src).unwrap();
            let name = rel.to_string_lossy();
            if !name.ends_with(".rs") || name == "main.rs" || name == "lib.rs" {
                continue;
            }
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            let deps = out.entry(top.clone()).or_default();
            for c in re.captures_iter(&text) {
                if c[1] != top {
                    deps.insert(c[1].to_string());
                }
            }
        }
    }
    out
}

fn reaches(g: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(m) = stack.pop() {
        for d in g.get(&m).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn the_module_graph_has_no_circle() {
    let g = graph();
    assert!(g.len() > 15, "{g:?}");
    for m in g.keys() {
        assert!(
            !reaches(&g, m).contains(m),
            "{m} reaches itself: {:?}",
            reaches(&g, m)
        );
    }
}

#[test]
fn nothing_below_the_app_imports_upward() {
    let g = graph();
    for (m, deps) in &g {
        if matches!(m.as_str(), "app" | "server") {
            continue;
        }
        for up in ["app", "server", "cli"] {
            assert!(!deps.contains(up), "{m} imports {up}");
        }
    }
    assert!(!g["app"].contains("server"), "the app imports the server");
    for engine_dep in ["failover", "server", "app", "policy"] {
        assert!(
            !g["engine"].contains(engine_dep),
            "engine imports {engine_dep}"
        );
    }
    for pure in ["burn", "policy", "slo", "rulegen", "window", "promql"] {
        for io in [
            "engine", "query", "journal", "actuator", "failover", "server", "app",
        ] {
            assert!(
                !g.get(pure).is_some_and(|d| d.contains(io)),
                "pure {pure} imports {io}"
            );
        }
    }
}
