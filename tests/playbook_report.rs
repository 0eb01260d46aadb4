//! `sloguard playbook` and `sloguard report` on the example config and the shipped
//! GameDay scenarios. Every shell block of the playbook is run as written by bash, with
//! `aws` the real AWS CLI pointed at a closed local port (it parses and validates every
//! argument against the service model before it connects, so only a well-formed call
//! reaches "Could not connect"), `curl` the real curl against unreachable hosts (a bad
//! option or URL exits 2 or 3, an unreachable host 6, 7 or 28), and `sloguard` and `env`
//! recording their argv, which is then parsed by sloguard's own CLI and compared with
//! the configured script.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::prom::free_port;
use common::*;
use sloguard::slo::{decimal, Severity};

/// The example config, rewritten to live in `dir`: specs by absolute path, secret files
/// as files in `dir` (the Slack webhook URL points at a closed local port).
fn example_config(dir: &Path) -> PathBuf {
    let slack = dir.join("slack-webhook");
    std::fs::write(&slack, format!("http://127.0.0.1:{}/hook\n", free_port())).unwrap();
    let token = dir.join("argocd-token");
    std::fs::write(&token, "not-a-real-token\n").unwrap();
    let text = std::fs::read_to_string(repo().join("sloguard.example.yaml"))
        .unwrap()
        .replace(
            "specs: slo-specs/",
            &format!("specs: {}", repo().join("slo-specs").display()),
        )
        .replace("/etc/sloguard/slack-webhook", &slack.display().to_string())
        .replace("/etc/sloguard/argocd-token", &token.display().to_string());
    let cfg = dir.join("sloguard.yaml");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn aws_cli() -> PathBuf {
    match std::env::var("SLOGUARD_AWS_CLI") {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            let venv = repo().join("target/awscli-venv/bin/aws");
            if venv.is_file() {
                venv
            } else {
                tool("aws")
            }
        }
    }
}

/// The ```sh blocks of a Markdown document.
fn shell_blocks(md: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in md.lines() {
        match (&mut current, line) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

/// Runs every block with checking stand-ins for aws, curl, sloguard and env; returns
/// (problems, aws calls, curl calls, sloguard argvs, env argvs).
struct Checked {
    problems: Vec<String>,
    aws: usize,
    curl: usize,
    sloguard: Vec<Vec<String>>,
    env: Vec<Vec<String>>,
}

fn run_blocks(blocks: &[String], dir: &Path) -> Checked {
    let log = dir.join("log");
    std::fs::create_dir_all(&log).unwrap();
    let prelude = format!(
        r#"
set -u
LOG={log}
aws() {{
  local err
  err=$("{aws}" --endpoint-url http://127.0.0.1:9 --cli-connect-timeout 1 --cli-read-timeout 1 "$@" 2>&1 >/dev/null)
  if printf '%s' "$err" | grep -q "Could not connect to the endpoint URL"; then
    echo ok >> "$LOG/aws"
  else
    printf 'aws %s: %s\n' "$*" "$(printf '%s' "$err" | tr '\n\r' '  ')" >> "$LOG/problems"
  fi
  # What a command substitution captures (a change id, a version) in place of the answer.
  echo 1
}}
curl() {{
  command curl --connect-timeout 1 --max-time 3 -o /dev/null "$@" 2>/dev/null
  local rc=$?
  case $rc in
    6|7|28) echo ok >> "$LOG/curl" ;;
    *) printf 'curl %s: exit %s\n' "$*" "$rc" >> "$LOG/problems" ;;
  esac
}}
sloguard() {{ printf '%s\0' "$@" >> "$LOG/sloguard"; printf '\n' >> "$LOG/sloguard"; }}
env() {{ printf '%s\0' "$@" >> "$LOG/env"; printf '\n' >> "$LOG/env"; }}
"#,
        log = log.display(),
        aws = aws_cli().display()
    );
    for (i, b) in blocks.iter().enumerate() {
        let script = dir.join(format!("block{i}.sh"));
        std::fs::write(&script, format!("{prelude}\n{b}")).unwrap();
        let out = Command::new("bash")
            .arg(&script)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_RETRY_MODE", "standard")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "block {i} does not run in bash:\n{b}\n{}",
            text(&out)
        );
    }
    let read = |name: &str| std::fs::read_to_string(log.join(name)).unwrap_or_default();
    let argvs = |name: &str| -> Vec<Vec<String>> {
        read(name)
            .split("\0\n")
            .filter(|r| !r.is_empty())
            .map(|r| r.split('\0').map(str::to_string).collect())
            .collect()
    };
    Checked {
        problems: read("problems").lines().map(str::to_string).collect(),
        aws: read("aws").lines().count(),
        curl: read("curl").lines().count(),
        sloguard: argvs("sloguard"),
        env: argvs("env"),
    }
}

#[test]
fn playbook_of_the_example_config_says_what_the_engine_does_and_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = example_config(dir.path());
    let scenarios = repo().join("tests/gameday");
    let out = run(sloguard().args([
        "playbook",
        "--config",
        cfg_path.to_str().unwrap(),
        "--scenarios",
        scenarios.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{}", text(&out));
    let md = String::from_utf8(out.stdout).unwrap();

    // --out writes the same document as <domain>.md.
    let pb = dir.path().join("playbooks");
    let written = run(sloguard().args([
        "playbook",
        "--config",
        cfg_path.to_str().unwrap(),
        "--scenarios",
        scenarios.to_str().unwrap(),
        "--domain",
        "web",
        "--out",
        pb.to_str().unwrap(),
    ]));
    assert!(written.status.success(), "{}", text(&written));
    assert_eq!(std::fs::read_to_string(pb.join("web.md")).unwrap(), md);
    let unknown = run(sloguard().args([
        "playbook",
        "--config",
        cfg_path.to_str().unwrap(),
        "--domain",
        "nope",
    ]));
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown).contains("no failover domain \"nope\""),
        "{}",
        text(&unknown)
    );

    for section in [
        "## 1. What triggers the failover",
        "## 2. Guards",
        "## 4. Runbook",
        "## 5. Failing back",
        "## 6. Who is paged",
        "## 7. Rehearse it",
    ] {
        assert!(md.contains(section), "missing {section}:\n{md}");
    }

    // Triggers: every tier of every gating SLO with its threshold from the specs.
    let cfg = sloguard::config::load(&cfg_path).unwrap();
    let fo = cfg.failover.as_ref().unwrap();
    let domain = &fo.domains[0];
    let services = sloguard::slo::load_dir(&cfg.specs).unwrap();
    let mut rows = 0;
    for s in &services {
        for slo in &s.slos {
            let id = format!("{}/{}", s.name, slo.name);
            if !domain.slos.contains(&id) {
                assert!(!md.contains(&format!("| {id} |")), "{id} does not gate web");
                continue;
            }
            for tier in &slo.tiers {
                let threshold = decimal(slo.threshold(tier));
                let row = md
                    .lines()
                    .find(|l| {
                        l.starts_with(&format!("| {id} |"))
                            && l.contains(&format!("| {}/{} |", tier.long, tier.short))
                    })
                    .unwrap_or_else(|| panic!("no row for {id} {}/{}", tier.long, tier.short));
                assert!(row.contains(&format!("| {threshold} |")), "{row}");
                if tier.severity == Severity::Page {
                    assert!(row.contains("| page |"), "{row}");
                }
                rows += 1;
            }
        }
    }
    assert!(rows >= 4, "{rows} tier rows");
    assert!(md.contains(&format!(
        "{} consecutive scheduled evaluations",
        fo.policy.consecutive
    )));
    for (name, _) in &domain.preconditions {
        assert!(md.contains(&format!("`{name}`")), "precondition {name}");
    }

    // Runbook: every step, in order, with its call.
    let mut at = 0;
    for (i, step) in domain.runbook.iter().enumerate() {
        let heading = format!("### Step {}: `{}` ({})", i + 1, step.name, step.kind());
        let pos = md[at..]
            .find(&heading)
            .unwrap_or_else(|| panic!("missing or out of order: {heading}"));
        at += pos + heading.len();
    }
    assert!(md.contains("aws rds switchover-global-cluster --region eu-west-1 --global-cluster-identifier saas-global"));
    assert!(md.contains(
        "aws route53 change-resource-record-sets --hosted-zone-id Z0123456789ABCDEFGHIJ"
    ));
    assert!(md
        .contains("sloguard failback --url http://127.0.0.1:8080 --domain web --target us-east-1"));
    assert!(
        md.contains("arn:aws:sns:us-east-1:123456789012:sloguard-oncall"),
        "who is paged"
    );

    // The checks catch what they are for: a misspelt member, an unknown option, a bad URL.
    let control = tempfile::tempdir().unwrap();
    let broken = run_blocks(
        &[
            "aws route53 change-resource-record-sets --hosted-zone-id Z1 --change-batch '{\"Changes\":[{\"Action\":\"UPSERT\",\"ResourceRecordSet\":{\"Nme\":\"a.example.com\"}}]}'\n".to_string(),
            "aws sns publish --topic-arn arn:aws:sns:us-east-1:1:t --message m --no-such-option\n".to_string(),
            "curl -sS --no-such-option http://127.0.0.1:9/\n".to_string(),
        ],
        control.path(),
    );
    assert_eq!(broken.problems.len(), 3, "{:#?}", broken.problems);
    assert_eq!((broken.aws, broken.curl), (0, 0));

    // Every shell line runs as written.
    let checked = run_blocks(&shell_blocks(&md), dir.path());
    assert!(checked.problems.is_empty(), "{:#?}", checked.problems);
    // sns publish + verify, rds act + verify, route53 change + wait + verify, and the
    // failback direction's sns, rds, route53 change + wait.
    assert!(checked.aws >= 11, "{} aws calls", checked.aws);
    assert!(checked.curl >= 4, "{} curl calls", checked.curl);
    for argv in &checked.sloguard {
        let mut full = vec!["sloguard".to_string()];
        full.extend(argv.iter().cloned());
        if let Err(e) = <sloguard::cli::Cli as clap::Parser>::try_parse_from(&full) {
            panic!("{full:?} does not parse: {e}");
        }
    }
    let verbs: Vec<&str> = checked.sloguard.iter().map(|a| a[0].as_str()).collect();
    for verb in [
        "status",
        "incidents",
        "report",
        "failover",
        "failback",
        "rearm",
        "approve",
        "gameday",
    ] {
        assert!(
            verbs.contains(&verb),
            "no `sloguard {verb}` in the playbook: {verbs:?}"
        );
    }
    let script = "/opt/dr/after-failover.sh";
    assert!(!checked.env.is_empty());
    for argv in &checked.env {
        let cmd: Vec<&str> = argv
            .iter()
            .skip_while(|a| a.starts_with("SLOGUARD_"))
            .map(String::as_str)
            .collect();
        assert!(cmd == [script] || cmd == [script, "--check"], "{argv:?}");
        assert!(argv
            .iter()
            .any(|a| a == "SLOGUARD_REASON=manual failover (playbook)"));
    }

    // The scenarios it lists rehearse this config and pass.
    let gamedays: Vec<&Vec<String>> = checked
        .sloguard
        .iter()
        .filter(|a| a[0] == "gameday")
        .collect();
    let shipped = std::fs::read_dir(&scenarios).unwrap().count();
    assert_eq!(gamedays.len(), shipped, "every shipped scenario is listed");
    for argv in gamedays {
        let out = run(sloguard().args(argv));
        assert!(out.status.success(), "{argv:?}: {}", text(&out));
    }
}

/// Runs a shipped scenario on the example config, keeping its journal.
fn drill_journal(dir: &Path, cfg: &Path, scenario: &str) -> (PathBuf, serde_json::Value) {
    let journal = dir.join(format!("{scenario}.db"));
    let out = run(sloguard().args([
        "gameday",
        "--scenario",
        repo()
            .join(format!("tests/gameday/{scenario}.yaml"))
            .to_str()
            .unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--output",
        "json",
        "--journal",
        journal.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{scenario}: {}", text(&out));
    (journal, serde_json::from_slice(&out.stdout).unwrap())
}

fn report(cfg: &Path, journal: &Path, incident: &str, format: &str) -> std::process::Output {
    run(sloguard().args([
        "report",
        incident,
        "--config",
        cfg.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--format",
        format,
    ]))
}

#[test]
fn report_of_a_drilled_outage_shows_timeline_evidence_budget_and_guards() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = example_config(dir.path());
    let (journal, drill) = drill_journal(dir.path(), &cfg_path, "primary-outage");
    let out = report(&cfg_path, &journal, "1", "md");
    assert!(out.status.success(), "{}", text(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.starts_with("# Incident 1: web failover us-east-1 → eu-west-1"),
        "{md}"
    );
    assert!(md.contains("GameDay drill (chaos)"), "a drill is marked");

    // The decision's time is the drill's own failover time.
    let failover_at = drill["failovers"][0]["at"]
        .as_i64()
        .unwrap_or_else(|| panic!("no failover in {drill}"));
    let decided = sloguard::backtest::format_time(sloguard::app::drill::DRILL_START + failover_at);
    let decision = md
        .lines()
        .find(|l| l.contains("**decision**: fail over us-east-1 → eu-west-1"))
        .unwrap_or_else(|| panic!("no decision line:\n{md}"));
    assert!(
        decision.starts_with(&format!("| {decided} |")),
        "{decision} vs {decided}"
    );
    let first_burn = md.find("**first burn").expect("first burn");
    assert!(first_burn < md.find("**decision**").unwrap());

    let cfg = sloguard::config::load(&cfg_path).unwrap();
    let domain = &cfg.failover.as_ref().unwrap().domains[0];
    for (i, step) in domain.runbook.iter().enumerate() {
        assert!(
            md.contains(&format!("step {} `{}` ({})", i + 1, step.name, step.kind())),
            "timeline lacks step {}",
            step.name
        );
    }

    // Evidence and budget: a row per gating SLO and region; the burning one pages.
    for id in &domain.slos {
        for region in ["us-east-1", "eu-west-1"] {
            let evidence = md
                .lines()
                .filter(|l| l.starts_with(&format!("| {id} | {region} |")))
                .count();
            assert_eq!(
                evidence, 2,
                "{id} {region}: one burn row and one budget row"
            );
        }
        let burning = md
            .lines()
            .find(|l| l.starts_with(&format!("| {id} | us-east-1 | complete |")))
            .unwrap();
        assert!(burning.contains("| page |"), "{burning}");
    }
    assert!(
        md.contains("| objective | period | availability | budget consumed | budget remaining |")
    );
    for guard in [
        "hysteresis",
        "healthy target",
        "complete data",
        "preconditions",
        "cooldown",
        "quorum",
        "approval",
    ] {
        assert!(
            md.lines()
                .any(|l| l.starts_with(&format!("| {guard} | yes |"))),
            "guard {guard} not shown as held:\n{md}"
        );
    }

    let html = report(&cfg_path, &journal, "1", "html");
    assert!(html.status.success(), "{}", text(&html));
    let page = String::from_utf8(html.stdout).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert!(
        page.contains("<table>") && page.contains("<h2>Guards checked</h2>"),
        "{page}"
    );
    assert!(
        !page.contains("<script") && !page.contains(" src="),
        "self-contained"
    );

    let missing = report(&cfg_path, &journal, "99", "md");
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing).contains("no incident 99"),
        "{}",
        text(&missing)
    );
}

#[test]
fn every_shipped_scenario_gives_a_report_or_says_there_is_no_incident() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = example_config(dir.path());
    let mut reported = 0;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/gameday"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let name = p.file_stem().unwrap().to_str().unwrap().to_string();
        let (journal, drill) = drill_journal(dir.path(), &cfg_path, &name);
        let failovers = drill["failovers"].as_array().unwrap().len();
        let out = report(&cfg_path, &journal, "1", "md");
        if failovers == 0 {
            assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
            assert!(
                text(&out).contains("no incident 1"),
                "{name}: {}",
                text(&out)
            );
        } else {
            assert!(out.status.success(), "{name}: {}", text(&out));
            let md = String::from_utf8(out.stdout).unwrap();
            assert!(
                md.contains("**decision**") && md.contains("## Guards checked"),
                "{name}:\n{md}"
            );
            reported += 1;
        }
    }
    assert!(reported >= 3, "{reported} scenarios with a failover");
}

#[test]
fn gameday_journal_replaces_only_an_earlier_drill_copy() {
    use sloguard::journal::Journal;
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = example_config(dir.path());
    let scenario = repo().join("tests/gameday/primary-outage.yaml");
    let gameday = |journal: &Path| {
        run(sloguard()
            .args(["gameday", "--output", "json", "--scenario"])
            .arg(&scenario)
            .arg("--config")
            .arg(&cfg_path)
            .arg("--journal")
            .arg(journal))
    };
    // Not a journal: refused before the drill, the file untouched.
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "precious\n").unwrap();
    let out = gameday(&precious);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not a sloguard journal"),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "refused before the drill ran");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "precious\n");

    // A live engine's journal (its lock beside it): refused, still the engine's.
    let live = dir.path().join("live.db");
    let engine = Journal::open(&live).unwrap();
    engine
        .record_decision(
            1,
            "web",
            None,
            "notify",
            &serde_json::json!({"message": "real"}),
            false,
        )
        .unwrap();
    let out = gameday(&live);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is beside it"), "{}", text(&out));
    assert_eq!(
        engine.decisions(10).unwrap().len(),
        1,
        "the engine's journal is intact"
    );
    drop(engine);

    // A journal holding real decisions, even with nothing beside it: refused.
    let real = dir.path().join("real.db");
    std::fs::copy(&live, &real).unwrap();
    let out = gameday(&real);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("real (non-drill)"), "{}", text(&out));

    // An earlier drill copy is replaced, owner-only, and nothing is left beside it.
    let copy = dir.path().join("drill.db");
    for _ in 0..2 {
        let out = gameday(&copy);
        assert!(out.status.success(), "{}", text(&out));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let beside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("drill.db") && n != "drill.db")
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
}

#[test]
fn report_counts_from_the_burn_that_led_to_the_decision_and_always_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = example_config(dir.path());
    let (journal, _) = drill_journal(dir.path(), &cfg_path, "primary-outage");
    let time_to_decision = |md: &str| {
        md.lines()
            .find(|l| l.starts_with("- Time to decision:"))
            .unwrap_or_else(|| panic!("{md}"))
            .to_string()
    };
    let before = String::from_utf8(report(&cfg_path, &journal, "1", "md").stdout).unwrap();

    // An old burn that ended days before, and more refusals than a report reads, all
    // journaled after the decision's own row.
    let conn = rusqlite::Connection::open(&journal).unwrap();
    let opened: i64 = conn
        .query_row("SELECT opened_at FROM incidents WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    for (at, firing) in [
        (opened - 3 * 86_400, true),
        (opened - 3 * 86_400 + 600, false),
    ] {
        conn.execute(
            "INSERT INTO decisions (at, domain, incident, kind, detail, chaos) VALUES (?1, 'web', NULL, 'alert', ?2, 1)",
            rusqlite::params![at, serde_json::json!({"slo": "checkout/requests-availability", "region": "us-east-1", "severity": "ticket", "firing": firing}).to_string()],
        )
        .unwrap();
    }
    let tx = conn.unchecked_transaction().unwrap();
    for i in 0..20_001 {
        tx.execute(
            "INSERT INTO decisions (at, domain, incident, kind, detail, chaos) VALUES (?1, 'web', NULL, 'blocked', '{\"reason\":\"r\"}', 1)",
            [opened - 86_400 + i % 3600],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);

    let out = report(&cfg_path, &journal, "1", "md");
    assert!(out.status.success(), "{}", text(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert_eq!(time_to_decision(&md), time_to_decision(&before), "{md}");
    assert!(
        md.contains("**decision**: fail over us-east-1 → eu-west-1"),
        "{md}"
    );
    assert!(
        md.lines().any(|l| l.starts_with("| hysteresis | yes |")),
        "{md}"
    );
    assert!(
        md.contains("earlier decision(s) since the previous incident"),
        "{md}"
    );
    assert!(
        md.contains("The journal holds"),
        "says it read only the newest: {md}"
    );
}

/// Values that would break a playbook's Markdown, escape `--out` or change what a pasted
/// command does are refused when the config is read, naming the field.
#[test]
fn names_and_values_that_would_break_a_playbook_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(example_config(dir.path())).unwrap();
    let cases = [
        (
            "    - name: web\n",
            "    - name: \"../../escaped\"\n",
            "failover.domains[0].name",
        ),
        (
            "    - name: web\n",
            "    - name: \"web\\n```sh\\ntouch pwned\\n```\"\n",
            "failover.domains[0].name",
        ),
        (
            "        - name: page-oncall\n",
            "        - name: \"page`x`\\n```\"\n",
            "runbook[0].name",
        ),
        (
            "          command: [/opt/dr/after-failover.sh]\n",
            "          command: [\"PATH=/tmp/evil\", /opt/dr/after-failover.sh]\n",
            "command[0]",
        ),
        (
            "          record_name: app.example.com\n",
            "          record_name: \"app.example.com' || 'x'=='x\"\n",
            "record_name",
        ),
        (
            "          topic_arn: arn:aws:sns:us-east-1:123456789012:sloguard-oncall\n",
            "          topic_arn: \"arn:aws:sns:us-east-1:1:t'; touch pwned; '\"\n",
            "topic_arn",
        ),
    ];
    for (i, (from, to, field)) in cases.iter().enumerate() {
        assert!(good.contains(from), "the example config has {from:?}");
        let cfg = dir.path().join(format!("hostile{i}.yaml"));
        std::fs::write(&cfg, good.replacen(from, to, 1)).unwrap();
        let out_dir = dir.path().join(format!("out{i}/inner"));
        let out = run(sloguard()
            .args(["playbook", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out_dir));
        assert_eq!(out.status.code(), Some(2), "{to:?}: {}", text(&out));
        assert!(
            text(&out).contains(field),
            "{to:?} names {field}: {}",
            text(&out)
        );
        assert!(!out_dir.exists() && !dir.path().join("escaped.md").exists());
    }
}
