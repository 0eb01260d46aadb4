//! Replicas that act as one (issue 20), with real `sloguard serve` processes that are
//! peers of each other, a real Prometheus, moto (SNS, Route 53) and an HTTP hook that
//! counts its calls:
//! - three replicas all seeing the active region burn: one executor, each step called
//!   once (one SNS message, one hook call, one exec line), every replica latched on the
//!   target and its journal naming the executor;
//! - the executor killed mid-runbook: the next replica takes over and completes it
//!   without repeating the step already done (checked by its `check`);
//! - a replica cut off from its peers (quorum 2): no step runs;
//! - an operator failover on a replica whose peer sees the region healthy: refused,
//!   naming the quorum guard; a failback from armed: refused.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::prom::{free_port, Prometheus};
use common::*;
use sloguard::sim;

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;
const TOKEN: &str = "op-secret-token";

/// An HTTP endpoint on loopback that answers 200 and counts the requests it got.
fn hook() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 8192];
            let mut got = Vec::new();
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            c.fetch_add(1, Ordering::SeqCst);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, count)
}

struct Replica {
    name: String,
    dir: PathBuf,
    port: u16,
    config: PathBuf,
    child: Option<Child>,
}

impl Replica {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    fn phase(&self) -> String {
        let (_, body) = curl(&self.url("/api/v1/incidents"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["policy"][0]["phase"]["phase"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    fn active(&self) -> String {
        let (_, body) = curl(&self.url("/api/v1/incidents"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["policy"][0]["active"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    fn start(&mut self, env: &[(&'static str, String)]) {
        let child = sloguard()
            .args(["serve", "--config"])
            .arg(&self.config)
            .envs(env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("serve.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn journal(&self) -> sloguard::journal::Journal {
        sloguard::journal::Journal::open_read_only(&self.dir.join("journal.db")).unwrap()
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `n` replicas named r1..rn, each a peer of the others, with `quorum`, reading
/// `prom_urls[i]` and running `runbook` (YAML list items, indented by 8).
fn cluster(
    root: &Path,
    prom_urls: &[&str],
    quorum: u32,
    runbook: &str,
    peers: Option<&[String]>,
) -> Vec<Replica> {
    write_specs(
        &root.join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    std::fs::write(root.join("token"), TOKEN).unwrap();
    let ports: Vec<u16> = prom_urls.iter().map(|_| free_port()).collect();
    let mut out = Vec::new();
    for (i, prom) in prom_urls.iter().enumerate() {
        let name = format!("r{}", i + 1);
        let dir = root.join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let peer_urls: Vec<String> = match peers {
            Some(p) => p.to_vec(),
            None => ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| format!("http://127.0.0.1:{p}"))
                .collect(),
        };
        let config = dir.join("sloguard.yaml");
        std::fs::write(
            &config,
            format!(
                r#"specs: {specs}
source: {{thanos: {{url: {prom}}}}}
evaluation: {{interval: 1s}}
regions: {{active: us-east-1, standby: [eu-west-1]}}
server: {{listen: 127.0.0.1:{port}, api_token_file: {token}}}
failover:
  journal: journal.db
  replica: {name}
  peers: [{peers}]
  takeover_after: 4s
  policy: {{quorum: {quorum}}}
  domains:
    - name: web
      runbook:
{runbook}"#,
                specs = root.join("specs").display(),
                port = ports[i],
                token = root.join("token").display(),
                peers = peer_urls.join(", "),
            ),
        )
        .unwrap();
        out.push(Replica {
            name,
            dir,
            port: ports[i],
            config,
            child: None,
        });
    }
    out
}

fn post(url: &str, body: &str) -> (u16, String) {
    post_json(url, TOKEN, body)
}

/// Every replica's journal names the same executor of its failover decision.
/// Who executed the failover, as each replica's journal records it: the replica that a
/// follower took the result from (`executed_by_peer`), else the executor named by its
/// failover decision (a claimant that yielded records its claim first, then the peer).
fn executors(replicas: &[Replica]) -> Vec<String> {
    replicas
        .iter()
        .map(|r| {
            let j = r.journal();
            let decisions = j.decisions(1000).unwrap();
            let named = |kind: &str| {
                decisions
                    .iter()
                    .filter(|d| d.3 == kind)
                    .map(|d| {
                        let v: serde_json::Value = serde_json::from_str(&d.4).unwrap_or_default();
                        v["executor"].as_str().unwrap_or_default().to_string()
                    })
                    .next_back()
            };
            named("executed_by_peer")
                .or_else(|| named("failover"))
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn three_replicas_that_agree_run_each_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let prom = Prometheus::start(
        root,
        &sim::openmetrics(&live_two_regions(vec![ongoing_outage("us-east-1")])),
        &[],
    );
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_zone, topic) = rt.block_on(moto.weighted_zone_and_topic());
    let (hook_url, hooks) = hook();
    let log = root.join("steps.log");
    let runbook = format!(
        "        - {{name: page, kind: sns, topic_arn: '{topic}'}}\n        - {{name: signal, kind: route53_signal}}\n        - {{name: hook, kind: http, url: '{hook_url}'}}\n        - {{name: dr, kind: exec, command: [sh, -c, 'echo dr-$SLOGUARD_INCIDENT >> {}']}}\n",
        log.display()
    );
    let p = prom.url.as_str();
    let mut replicas = cluster(root, &[p, p, p], 2, &runbook, None);
    let env = moto.aws_env();
    for r in &mut replicas {
        r.start(&env);
    }
    wait_for("every replica latched on eu-west-1", 120, || {
        replicas
            .iter()
            .all(|r| r.phase() == "failed_over" && r.active() == "eu-west-1")
    });
    // Give a second executor (if there were one) time to show itself.
    std::thread::sleep(Duration::from_secs(4));
    let sent: usize = moto.sns_sent().len();
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    let logs: Vec<String> = replicas.iter().map(Replica::log).collect();
    assert_eq!(hooks.load(Ordering::SeqCst), 1, "one hook call: {logs:?}");
    assert_eq!(sent, 1, "one SNS page");
    assert_eq!(lines.lines().count(), 1, "one DR script run: {lines}");
    let ex = executors(&replicas);
    assert!(
        ex.iter().all(|e| !e.is_empty() && e == &ex[0]),
        "every journal names the same executor: {ex:?}"
    );
    // Every replica raised its own data-plane signal.
    for r in &replicas {
        assert_eq!(
            curl(&r.url("/v1/signal/web/eu-west-1")).0,
            200,
            "{}",
            r.name
        );
    }
    // The followers' incidents say a peer ran them.
    let statuses: Vec<String> = replicas
        .iter()
        .map(|r| r.journal().incidents(5).unwrap()[0].status.clone())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| s.as_str() == "done").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s.as_str() == "done_by_peer")
            .count(),
        2,
        "{statuses:?}"
    );
}

#[test]
fn a_killed_executor_is_taken_over_without_repeating_done_steps() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let prom = Prometheus::start(
        root,
        &sim::openmetrics(&live_two_regions(vec![ongoing_outage("us-east-1")])),
        &[],
    );
    let (hook_url, hooks) = hook();
    let (log, mark, gate) = (root.join("steps.log"), root.join("MARK"), root.join("GATE"));
    let runbook = format!(
        "        - {{name: mark, kind: exec, command: [sh, -c, 'touch {mark}; echo mark >> {log}'], check: [test, -f, '{mark}']}}\n        - {{name: slow, kind: exec, timeout: 120s, command: [sh, -c, 'echo slow-start >> {log}; while [ ! -f {gate} ]; do sleep 0.05; done; echo slow-end >> {log}']}}\n        - {{name: hook, kind: http, url: '{hook_url}'}}\n",
        mark = mark.display(),
        log = log.display(),
        gate = gate.display()
    );
    let p = prom.url.as_str();
    let mut replicas = cluster(root, &[p, p, p], 2, &runbook, None);
    for r in &mut replicas {
        r.start(&[]);
    }
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("the executor's slow step", 120, || {
        read().contains("slow-start")
    });
    // The executor is the first by name (no replica is in the target region).
    let ex = executors(&replicas);
    assert_eq!(ex[0], "r1", "{ex:?}");
    replicas[0].kill();
    std::fs::write(&gate, "").unwrap();
    wait_for("another replica to complete the runbook", 90, || {
        hooks.load(Ordering::SeqCst) > 0 && read().contains("slow-end")
    });
    wait_for("the survivors to latch on eu-west-1", 60, || {
        replicas[1..].iter().all(|r| r.phase() == "failed_over")
    });
    std::thread::sleep(Duration::from_secs(3));
    let lines: Vec<String> = read().lines().map(str::to_string).collect();
    assert_eq!(
        lines.iter().filter(|l| *l == "mark").count(),
        1,
        "the done step (its check holds) was not repeated: {lines:?}"
    );
    assert_eq!(hooks.load(Ordering::SeqCst), 1, "one hook call");
    assert_eq!(
        lines.iter().filter(|l| *l == "slow-end").count(),
        1,
        "{lines:?}"
    );
    let taker = replicas[1..]
        .iter()
        .find(|r| r.log().contains("takes over"))
        .map(|r| r.name.clone());
    let logs: Vec<String> = replicas[1..].iter().map(Replica::log).collect();
    assert_eq!(
        taker.as_deref(),
        Some("r2"),
        "the next in order takes over: {logs:#?}"
    );
}

#[test]
fn a_replica_cut_off_from_its_peers_runs_no_step() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let prom = Prometheus::start(
        root,
        &sim::openmetrics(&live_two_regions(vec![ongoing_outage("us-east-1")])),
        &[],
    );
    let (hook_url, hooks) = hook();
    let runbook = format!("        - {{name: hook, kind: http, url: '{hook_url}'}}\n");
    // Its peers' addresses answer nothing (nothing listens there).
    let gone = vec![
        format!("http://127.0.0.1:{}", free_port()),
        format!("http://127.0.0.1:{}", free_port()),
    ];
    let mut replicas = cluster(root, &[prom.url.as_str()], 2, &runbook, Some(&gone));
    replicas[0].start(&[]);
    wait_for("a quorum refusal", 90, || {
        sloguard::journal::Journal::open_read_only(&replicas[0].dir.join("journal.db"))
            .ok()
            .and_then(|j| j.decisions(1000).ok())
            .is_some_and(|ds| {
                ds.iter()
                    .any(|d| d.3 == "blocked" && d.4.contains("quorum"))
            })
    });
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        hooks.load(Ordering::SeqCst),
        0,
        "no step ran on the isolated replica"
    );
    assert_ne!(replicas[0].phase(), "failing_over");
    assert_eq!(
        curl(&replicas[0].url("/v1/signal/web/us-east-1")).0,
        503,
        "its own vote is raised for the target, never for the old region"
    );
}

#[test]
fn operator_calls_pass_the_quorum_and_failback_only_undoes_a_failover() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("p1")).unwrap();
    std::fs::create_dir_all(root.join("p2")).unwrap();
    let burning = Prometheus::start(
        &root.join("p1"),
        &sim::openmetrics(&live_two_regions(vec![ongoing_outage("us-east-1")])),
        &[],
    );
    let healthy = Prometheus::start(
        &root.join("p2"),
        &sim::openmetrics(&live_two_regions(vec![])),
        &[],
    );
    let (hook_url, hooks) = hook();
    let runbook = format!("        - {{name: hook, kind: http, url: '{hook_url}'}}\n");
    let mut replicas = cluster(
        root,
        &[burning.url.as_str(), healthy.url.as_str()],
        2,
        &runbook,
        None,
    );
    for r in &mut replicas {
        r.start(&[]);
    }
    // C (r1) sees us-east-1 burning; D (r2) sees it healthy.
    wait_for("C to see the burn", 90, || {
        let (_, body) = curl(&replicas[0].url("/api/v1/status"));
        body.contains("\"state\":\"burning\"")
    });
    std::thread::sleep(Duration::from_secs(2));
    let (code, body) = post(
        &replicas[0].url("/api/v1/failover"),
        r#"{"domain":"web","target":"eu-west-1","reason":"C sees us-east-1 burning"}"#,
    );
    assert_eq!(code, 409, "{body}");
    assert!(
        body.contains("quorum"),
        "the refusal names the quorum guard: {body}"
    );
    // A failback on D, which never failed over: refused.
    let (code, body) = post(
        &replicas[1].url("/api/v1/failback"),
        r#"{"domain":"web","target":"eu-west-1","reason":"try"}"#,
    );
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("failback only undoes a failover"), "{body}");
    assert_eq!(hooks.load(Ordering::SeqCst), 0, "nothing ran");
    for r in &replicas {
        assert_eq!(r.active(), "us-east-1");
    }
}

/// A TCP forwarder on loopback that refuses every connection while `blocked` is set.
fn proxy(target: u16, blocked: Arc<std::sync::atomic::AtomicBool>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(client) = stream else { return };
            if blocked.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c1, mut s1) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut s1);
                let _ = s1.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

#[test]
fn a_partition_between_two_agreeing_replicas_still_gives_one_executor() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let prom = Prometheus::start(
        root,
        &sim::openmetrics(&live_two_regions(vec![ongoing_outage("us-east-1")])),
        &[],
    );
    let (hook_url, hooks) = hook();
    let log = root.join("steps.log");
    let runbook = format!(
        "        - {{name: hook, kind: http, url: '{hook_url}'}}\n        - {{name: dr, kind: exec, command: [sh, -c, 'echo dr >> {}']}}\n",
        log.display()
    );
    let p = prom.url.as_str();
    let mut replicas = cluster(root, &[p, p, p], 2, &runbook, None);
    // r1 and r2 reach each other only through a proxy that refuses everything: cut off
    // from each other, both still reach r3.
    let blocked = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (p1, p2) = (replicas[0].port, replicas[1].port);
    let to_r2 = proxy(p2, blocked.clone());
    let to_r1 = proxy(p1, blocked.clone());
    let rewire = |r: &Replica, from: u16, to: u16| {
        let text = std::fs::read_to_string(&r.config).unwrap().replace(
            &format!("http://127.0.0.1:{from}"),
            &format!("http://127.0.0.1:{to}"),
        );
        std::fs::write(&r.config, text).unwrap();
    };
    rewire(&replicas[0], p2, to_r2);
    rewire(&replicas[1], p1, to_r1);
    for r in &mut replicas {
        r.start(&[]);
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    while !replicas
        .iter()
        .all(|r| r.phase() == "failed_over" && r.active() == "eu-west-1")
    {
        if Instant::now() > deadline {
            let state: Vec<(String, String, String)> = replicas
                .iter()
                .map(|r| {
                    let l = r.log();
                    let tail: String = l.lines().rev().take(12).collect::<Vec<_>>().join("\n");
                    (r.name.clone(), r.phase(), tail)
                })
                .collect();
            panic!("not every replica latched: {state:#?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(4));
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    let logs: Vec<String> = replicas.iter().map(Replica::log).collect();
    assert_eq!(lines.lines().count(), 1, "one DR run: {lines} {logs:#?}");
    assert_eq!(hooks.load(Ordering::SeqCst), 1, "one hook call");
    let ex = executors(&replicas);
    assert!(ex.iter().all(|e| e == &ex[0]), "{ex:?}");
}
