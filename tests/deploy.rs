//! The deploy artifacts, checked the way the README's Deploy steps use them: every
//! Kustomize overlay rendered (with the `kubectl` on PATH and with Debian's kubectl, whose
//! Kustomize is v2.0.3) and validated with `kubernetes-validate --strict`, the points the
//! engine depends on checked on the rendered objects; the systemd unit through
//! `systemd-analyze verify`; the pre-commit hooks through `pre-commit try-repo`. (The
//! container image is built and run by scripts/build-image.sh and scripts/test-image.sh,
//! after `cargo test`, since it needs the release binary.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::common::{repo, run, sloguard, text, tool};

const OVERLAYS: [&str; 3] = ["us-east-1", "eu-west-1", "witness"];

fn kube_dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

/// A tool installed by scripts/test.sh into target/ (or named by an environment variable).
fn installed(env: &str, default: &str) -> PathBuf {
    let p = std::env::var(env)
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join(default));
    assert!(
        p.is_file(),
        "{} not found at {} ({env}): run scripts/test.sh, which installs it",
        Path::new(default).file_name().unwrap().to_string_lossy(),
        p.display()
    );
    p
}

fn kubectls() -> Vec<PathBuf> {
    vec![
        tool("kubectl"),
        installed(
            "SLOGUARD_KUBECTL_V2",
            "target/debian-kubectl/usr/bin/kubectl",
        ),
    ]
}

fn sloguard_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sloguard"))
}

/// PATH with the built sloguard first.
fn path_with_sloguard() -> String {
    format!(
        "{}:{}",
        sloguard_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn replica_env(overlay: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(
        kube_dir()
            .join("overlays")
            .join(overlay)
            .join("replica.env"),
    )
    .unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn render(kubectl: &Path, dir: &Path) -> Vec<Value> {
    let out = run(Command::new(kubectl).arg("kustomize").arg(dir));
    assert!(
        out.status.success(),
        "{} kustomize {} failed:\n{}",
        kubectl.display(),
        dir.display(),
        text(&out)
    );
    serde_yaml_ng::Deserializer::from_slice(&out.stdout)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn kind(v: &Value) -> &str {
    v["kind"].as_str().unwrap_or("")
}

fn name(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("")
}

/// The one object of kind `k` named `name_prefix` (plus a generated ConfigMap's hash).
fn one<'a>(objs: &'a [Value], k: &str, name_prefix: &str) -> &'a Value {
    let found: Vec<&Value> = objs
        .iter()
        .filter(|o| {
            // A generated ConfigMap's name carries a hash suffix.
            kind(o) == k
                && (name(o) == name_prefix
                    || (k == "ConfigMap"
                        && name(o)
                            .strip_prefix(name_prefix)
                            .and_then(|rest| rest.strip_prefix('-'))
                            .is_some_and(|hash| !hash.contains('-'))))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "want exactly one {k} named {name_prefix}*, got {}",
        found.len()
    );
    found[0]
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// failover.shutdown_grace as serve computes it: the configured value, else the longer
/// of 30 s and the longest runbook step timeout (default 60 s) plus 5 s.
fn shutdown_grace_secs(config: &Value) -> u64 {
    let fo = &config["failover"];
    if let Some(g) = fo["shutdown_grace"].as_str() {
        return humantime::parse_duration(g).unwrap().as_secs();
    }
    let mut longest = 0;
    for d in fo["domains"].as_sequence().unwrap() {
        for step in d["runbook"].as_sequence().unwrap() {
            let t = step["timeout"]
                .as_str()
                .map_or(60, |t| humantime::parse_duration(t).unwrap().as_secs());
            longest = longest.max(t);
        }
    }
    30.max(longest + 5)
}

/// Every point of the issue on one rendered overlay; returns a one-line summary.
fn check_overlay(overlay: &str, objs: &[Value], via: &str) -> String {
    let ctx = format!("overlay {overlay} rendered by {via}");
    let env = replica_env(overlay);

    // Secrets are never in Git, so never in the render.
    assert!(
        !objs.iter().any(|o| kind(o) == "Secret"),
        "{ctx}: a Secret is rendered"
    );
    for o in objs {
        if !matches!(kind(o), "Namespace") {
            assert_eq!(o["metadata"]["namespace"], "sloguard", "{ctx}: {}", name(o));
        }
    }

    let sts = one(objs, "StatefulSet", "sloguard");
    assert_eq!(sts["spec"]["replicas"].as_u64(), Some(1), "{ctx}");
    let pod = &sts["spec"]["template"]["spec"];
    let containers = pod["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1, "{ctx}");
    let c = &containers[0];

    // Probes.
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{ctx}");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{ctx}");

    // Security.
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true, "{ctx}");
    assert!(psc["runAsUser"].as_u64().unwrap() > 0, "{ctx}");
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault", "{ctx}");
    let csc = &c["securityContext"];
    assert_eq!(csc["readOnlyRootFilesystem"], true, "{ctx}");
    assert_eq!(csc["allowPrivilegeEscalation"], false, "{ctx}");
    assert_eq!(csc["runAsNonRoot"], true, "{ctx}");
    assert_eq!(csc["seccompProfile"]["type"], "RuntimeDefault", "{ctx}");
    let drop: Vec<String> = csc["capabilities"]["drop"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(drop, ["ALL"], "{ctx}");
    for kind_ in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            assert!(
                !s(&c["resources"][kind_][r]).is_empty(),
                "{ctx}: resources.{kind_}.{r} missing"
            );
        }
    }

    // The image the overlay names, with the command of the image's default.
    assert!(
        s(&c["image"]).ends_with("/sloguard:0.1.0"),
        "{ctx}: image {}",
        s(&c["image"])
    );
    let args: Vec<String> = c["args"].as_sequence().unwrap().iter().map(s).collect();
    assert_eq!(
        args[..3],
        ["serve", "--config", "/etc/sloguard/sloguard.yaml"],
        "{ctx}"
    );

    // The journal on the volume claim, never an emptyDir.
    let claims = sts["spec"]["volumeClaimTemplates"].as_sequence().unwrap();
    assert!(
        claims.iter().any(|t| name(t) == "journal"),
        "{ctx}: no journal claim"
    );
    let mounts = c["volumeMounts"].as_sequence().unwrap();
    let mount_of = |path: &str| -> String {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .map(|m| s(&m["name"]))
            .unwrap_or_else(|| panic!("{ctx}: nothing mounted at {path}"))
    };
    assert_eq!(mount_of("/var/lib/sloguard"), "journal", "{ctx}");
    let volumes = pod["volumes"].as_sequence().unwrap();
    assert!(
        !volumes.iter().any(|v| v["name"] == "journal"),
        "{ctx}: the journal is a pod volume (emptyDir?), not the claim"
    );
    let volume = |n: &str| -> &Value {
        volumes
            .iter()
            .find(|v| v["name"] == n)
            .unwrap_or_else(|| panic!("{ctx}: no volume {n}"))
    };

    // Config and specs from the generated ConfigMaps (the references carry the hash).
    let cfg_cm = one(objs, "ConfigMap", "sloguard-config");
    let specs_cm = one(objs, "ConfigMap", "sloguard-specs");
    assert_eq!(
        s(&volume(&mount_of("/etc/sloguard/sloguard.yaml"))["configMap"]["name"]),
        name(cfg_cm),
        "{ctx}"
    );
    assert_eq!(
        s(&volume(&mount_of("/etc/sloguard/slo-specs"))["configMap"]["name"]),
        name(specs_cm),
        "{ctx}"
    );
    // Tokens from the Secret made out of band.
    assert_eq!(
        volume(&mount_of("/etc/sloguard/secrets"))["secret"]["secretName"],
        "sloguard-tokens",
        "{ctx}"
    );
    // The specs are slo-specs/, byte for byte.
    let mut spec_files: Vec<String> = std::fs::read_dir(repo().join("slo-specs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    spec_files.sort();
    let data = specs_cm["data"].as_mapping().unwrap();
    let keys: Vec<String> = data.keys().map(s).collect();
    assert_eq!(keys, spec_files, "{ctx}: specs ConfigMap keys");
    for f in &spec_files {
        let want = std::fs::read_to_string(repo().join("slo-specs").join(f)).unwrap();
        assert_eq!(
            s(&data[f.as_str()]),
            want,
            "{ctx}: {f} differs from slo-specs/"
        );
    }

    // The engine config: this replica's identity, its peers (the other overlays) and a
    // quorum of at least 2 that the replicas can reach.
    let config_text = s(&cfg_cm["data"]["sloguard.yaml"]);
    let config: Value = serde_yaml_ng::from_str(&config_text).unwrap();
    let fo = &config["failover"];
    assert_eq!(s(&fo["replica"]), env["REPLICA"], "{ctx}");
    assert_eq!(s(&fo["region"]), env["REGION"], "{ctx}");
    let peers: Vec<String> = fo["peers"].as_sequence().unwrap().iter().map(s).collect();
    let want_peers: Vec<String> = OVERLAYS
        .iter()
        .filter(|o| **o != overlay)
        .map(|o| replica_env(o)["PEER_URL"].clone())
        .collect();
    let (mut got, mut want) = (peers.clone(), want_peers);
    got.sort();
    want.sort();
    assert_eq!(got, want, "{ctx}: peers are the other overlays");
    let quorum = fo["policy"]["quorum"].as_u64().unwrap();
    assert!(
        quorum >= 2 && quorum as usize <= peers.len() + 1,
        "{ctx}: quorum {quorum}"
    );
    assert_eq!(
        s(&fo["journal"]),
        "/var/lib/sloguard/journal.db",
        "{ctx}: the journal must be on the claim"
    );
    assert_eq!(s(&config["server"]["listen"]), "0.0.0.0:8080", "{ctx}");

    // Termination grace outlasts the engine's shutdown grace (a running step finishes).
    let grace = shutdown_grace_secs(&config);
    let tgps = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        tgps > grace,
        "{ctx}: terminationGracePeriodSeconds {tgps} <= shutdown grace {grace}s"
    );

    // IAM roles for service accounts.
    let sa = one(objs, "ServiceAccount", "sloguard");
    assert_eq!(pod["serviceAccountName"], "sloguard", "{ctx}");
    assert!(
        s(&sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])
            .starts_with("arn:aws:iam::"),
        "{ctx}: no eks.amazonaws.com/role-arn"
    );

    // Disruption budget, Services, ServiceMonitor, network policies.
    let pdb = one(objs, "PodDisruptionBudget", "sloguard");
    let labels = &sts["spec"]["template"]["metadata"]["labels"];
    let selects = |sel: &Value| {
        sel.as_mapping()
            .unwrap()
            .iter()
            .all(|(k, v)| labels[s(k).as_str()] == *v)
    };
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"]), "{ctx}");
    let svc = one(objs, "Service", "sloguard");
    assert!(selects(&svc["spec"]["selector"]), "{ctx}");
    let peer_svc = one(objs, "Service", "sloguard-peer");
    let host = env["PEER_URL"]
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        s(&peer_svc["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"]),
        host,
        "{ctx}"
    );
    let sm = one(objs, "ServiceMonitor", "sloguard");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics", "{ctx}");
    let np = one(objs, "NetworkPolicy", "sloguard");
    assert!(selects(&np["spec"]["podSelector"]["matchLabels"]), "{ctx}");
    assert!(
        !np["spec"]["ingress"].as_sequence().unwrap().is_empty(),
        "{ctx}"
    );
    let np_peers = one(objs, "NetworkPolicy", "sloguard-peers");
    let cidrs: Vec<String> = np_peers["spec"]["ingress"][0]["from"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| s(&f["ipBlock"]["cidr"]))
        .collect();
    for o in OVERLAYS.iter().filter(|o| **o != overlay) {
        let cidr = &replica_env(o)["VPC_CIDR"];
        assert!(
            cidrs.contains(cidr),
            "{ctx}: peers policy misses {o}'s {cidr}"
        );
    }

    // The PrometheusRules, one per spec, in a sync wave before the engine's.
    let wave = |o: &Value| -> i64 {
        s(&o["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
            .parse()
            .unwrap_or(0)
    };
    let rules: Vec<&Value> = objs
        .iter()
        .filter(|o| kind(o) == "PrometheusRule")
        .collect();
    assert_eq!(rules.len(), spec_files.len(), "{ctx}: PrometheusRules");
    for r in &rules {
        assert!(
            wave(r) < wave(sts),
            "{ctx}: {} is not synced before the engine",
            name(r)
        );
    }

    format!(
        "{overlay}: replica={} region={} peers=[{}] quorum={quorum} tgps={tgps}s (grace {grace}s) image={} config={} specs={}",
        env["REPLICA"],
        env["REGION"],
        peers.join(", "),
        s(&c["image"]),
        name(cfg_cm),
        name(specs_cm)
    )
}

fn core_objects(objs: &[Value]) -> Vec<&Value> {
    objs.iter()
        .filter(|o| {
            let api = s(&o["apiVersion"]);
            !api.contains("coreos.com") && !api.contains("argoproj.io")
        })
        .collect()
}

#[test]
fn deploy_copies_match_their_sources() {
    // slo-specs/, the PrometheusRules and the overlays' configs inside the Kustomize tree.
    let out = run(Command::new("bash")
        .arg(kube_dir().join("sync.sh"))
        .arg("--check")
        .env("SLOGUARD", sloguard_bin()));
    assert!(
        out.status.success(),
        "deploy/kubernetes/sync.sh --check:\n{}",
        text(&out)
    );
}

#[test]
fn kubernetes_overlays_render_validate_and_wire_the_replicas() {
    let validate = installed(
        "SLOGUARD_KUBERNETES_VALIDATE",
        "target/deploy-venv/bin/kubernetes-validate",
    );
    let tmp = tempfile::tempdir().unwrap();
    for kubectl in kubectls() {
        let via = run(Command::new(&kubectl).args(["version", "--client"]));
        let via = format!(
            "{} ({})",
            kubectl.display(),
            text(&via).lines().next().unwrap_or("")
        );
        let mut kinds_by_overlay = Vec::new();
        for overlay in OVERLAYS {
            let objs = render(&kubectl, &kube_dir().join("overlays").join(overlay));
            eprintln!("{}", check_overlay(overlay, &objs, &via));
            let mut kinds: Vec<String> = objs
                .iter()
                .map(|o| {
                    let n = name(o);
                    // Generated names differ by their hash only.
                    let n = if kind(o) == "ConfigMap" {
                        n.rsplit_once('-').map_or(n, |(a, _)| a)
                    } else {
                        n
                    };
                    format!("{}/{n}", kind(o))
                })
                .collect();
            kinds.sort();
            kinds_by_overlay.push(kinds);

            // Every core object passes strict schema validation (CRDs have no schema
            // there: the checks above cover them).
            let core = core_objects(&objs);
            assert!(core.len() >= 8, "{overlay}: {} core objects", core.len());
            let file = tmp.path().join(format!("{overlay}.yaml"));
            let docs: Vec<String> = core
                .iter()
                .map(|o| serde_yaml_ng::to_string(o).unwrap())
                .collect();
            std::fs::write(&file, docs.join("---\n")).unwrap();
            for version in ["1.30.0", "1.33.0"] {
                let out = run(Command::new(&validate)
                    .args(["--strict", "--kubernetes-version", version])
                    .arg(&file));
                assert!(
                    out.status.success(),
                    "kubernetes-validate --strict -k {version} on {overlay} ({via}):\n{}",
                    text(&out)
                );
            }

            // The overlay's config is one the engine accepts: its IAM policy prints from
            // it, with the specs ConfigMap beside it as in the pod.
            let cfg_dir = tmp.path().join(overlay);
            std::fs::create_dir_all(cfg_dir.join("slo-specs")).unwrap();
            let cfg = one(&objs, "ConfigMap", "sloguard-config");
            // The engine reads its token files at start: stand-ins for the Secret's keys.
            let secrets = cfg_dir.join("secrets");
            std::fs::create_dir_all(&secrets).unwrap();
            for key in [
                "webhook-token",
                "api-token",
                "slack-webhook",
                "argocd-token",
            ] {
                let f = secrets.join(key);
                std::fs::write(&f, "0123456789abcdef0123456789abcdef\n").unwrap();
                std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                    .unwrap();
            }
            std::fs::write(
                cfg_dir.join("sloguard.yaml"),
                s(&cfg["data"]["sloguard.yaml"])
                    .replace("/etc/sloguard/secrets/", &format!("{}/", secrets.display())),
            )
            .unwrap();
            let specs = one(&objs, "ConfigMap", "sloguard-specs");
            for (k, v) in specs["data"].as_mapping().unwrap() {
                std::fs::write(cfg_dir.join("slo-specs").join(s(k)), s(v)).unwrap();
            }
            let out = run(sloguard()
                .args(["iam-policy", "--config"])
                .arg(cfg_dir.join("sloguard.yaml")));
            assert!(
                out.status.success(),
                "{overlay}: the engine refuses the rendered config:\n{}",
                text(&out)
            );
            assert!(
                text(&out).contains("rds:SwitchoverGlobalCluster"),
                "{}",
                text(&out)
            );
        }
        // The overlays differ in their values, never in what they deploy.
        assert!(
            kinds_by_overlay.windows(2).all(|w| w[0] == w[1]),
            "{kinds_by_overlay:?}"
        );
    }
}

#[test]
fn argocd_application_example_syncs_an_overlay() {
    let app: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(kube_dir().join("argocd-application.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(app["kind"], "Application");
    let path = s(&app["spec"]["source"]["path"]);
    assert!(
        repo().join(&path).join("kustomization.yaml").is_file(),
        "the Application's path {path} is no overlay"
    );
    assert_eq!(app["spec"]["destination"]["namespace"], "sloguard");
}

#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let analyze = tool("systemd-analyze");
    let unit_text =
        std::fs::read_to_string(repo().join("deploy/systemd/sloguard.service")).unwrap();
    for directive in [
        "StateDirectory=sloguard",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "CapabilityBoundingSet=\n",
        "ExecStart=/usr/local/bin/sloguard serve --config /etc/sloguard/sloguard.yaml",
        "TimeoutStopSec=",
    ] {
        assert!(
            unit_text.contains(directive),
            "the unit lacks {directive:?}"
        );
    }
    // verify checks that ExecStart's binary exists: point it at the built one.
    let tmp = tempfile::tempdir().unwrap();
    let unit = tmp.path().join("sloguard.service");
    std::fs::write(
        &unit,
        unit_text.replace(
            "/usr/local/bin/sloguard",
            &sloguard_bin().display().to_string(),
        ),
    )
    .unwrap();
    let out = run(Command::new(&analyze).arg("verify").arg(&unit));
    let said = text(&out);
    assert!(out.status.success(), "systemd-analyze verify:\n{said}");
    assert!(
        !said.contains("sloguard.service"),
        "systemd-analyze verify has remarks on the unit:\n{said}"
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = run(Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args));
    assert!(out.status.success(), "git {args:?}:\n{}", text(&out));
}

#[test]
fn pre_commit_hooks_pass_on_fresh_rules_and_name_a_stale_file() {
    let pre_commit = installed("SLOGUARD_PRE_COMMIT", "target/deploy-venv/bin/pre-commit");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("slo-repo");
    let specs = work.join("slo-specs");
    std::fs::create_dir_all(&specs).unwrap();
    for f in ["checkout.yaml", "payments.yaml"] {
        std::fs::copy(repo().join("slo-specs").join(f), specs.join(f)).unwrap();
    }
    let out = run(sloguard().current_dir(&work).arg("generate"));
    assert!(out.status.success(), "{}", text(&out));
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "specs and rules"]);

    let try_repo = |hook: &str| {
        run(Command::new(&pre_commit)
            .current_dir(&work)
            .args(["try-repo"])
            .arg(repo())
            .args([hook, "--all-files", "--verbose"])
            .env("PATH", path_with_sloguard())
            .env("PRE_COMMIT_HOME", tmp.path().join("pre-commit-home"))
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com"))
    };
    for hook in ["sloguard-validate", "sloguard-generate-check"] {
        let out = try_repo(hook);
        assert!(
            out.status.success(),
            "{hook} fails on fresh rules:\n{}",
            text(&out)
        );
    }

    // A spec changes without regenerating: the check fails naming the stale rule file.
    let spec = specs.join("checkout.yaml");
    let body = std::fs::read_to_string(&spec).unwrap();
    let changed = body.replacen("objective: 99.95", "objective: 99.5", 1);
    assert_ne!(
        changed, body,
        "the spec has no `objective: 99.95` to change"
    );
    std::fs::write(&spec, changed).unwrap();
    git(
        &work,
        &[
            "commit",
            "-q",
            "-am",
            "tighter objective, rules not regenerated",
        ],
    );
    let out = try_repo("sloguard-generate-check");
    assert!(!out.status.success(), "a stale rule file passed the check");
    assert!(
        text(&out).contains("would change: rules/checkout.yaml")
            || text(&out).contains("would change: checkout.yaml"),
        "the failure does not name rules/checkout.yaml:\n{}",
        text(&out)
    );
    // validate still passes: the spec itself is fine.
    assert!(try_repo("sloguard-validate").status.success());
}

#[test]
fn version_names_the_crate_version_and_the_git_commit() {
    let out = run(sloguard().arg("--version"));
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let re =
        regex::Regex::new(r"^sloguard (\S+) \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)$").unwrap();
    let caps = re
        .captures(&said)
        .unwrap_or_else(|| panic!("--version says {said:?}"));
    assert_eq!(&caps[1], env!("CARGO_PKG_VERSION"));
    // Built in this checkout: the commit is HEAD's (build.rs reruns when HEAD moves).
    let head = run(Command::new("git")
        .current_dir(repo())
        .args(["rev-parse", "HEAD"]));
    if head.status.success() {
        let head = String::from_utf8_lossy(&head.stdout);
        assert!(
            head.starts_with(caps[2].trim_end_matches("-dirty")),
            "--version says {said:?}, HEAD is {head}"
        );
    }
}
