//! The runbook executor: ordered steps, dry run, retries then abort with a notification,
//! `on_failure: continue`, idempotence checks, the Aurora step against the in-process fake
//! that follows AWS's switchover/failover transitions, templated HTTP hooks, bad step
//! configs, and resuming a run killed mid-step without repeating completed steps.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sloguard::actuator::aws::{AuroraApi, BoxFut, FakeAurora, SnsApi};
use sloguard::actuator::{parse_steps, Actuator, Backends, Incident};
use sloguard::journal::Journal;

#[derive(Default)]
struct RecordingSns(Mutex<Vec<String>>);

impl SnsApi for RecordingSns {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        subject: &'a str,
        message: &'a str,
        attrs: &'a [(String, String)],
    ) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            self.0
                .lock()
                .unwrap()
                .push(format!("{topic}|{subject}|{message}|{attrs:?}"));
            Ok("m-1".into())
        })
    }
}

fn steps(yaml: &str) -> Vec<sloguard::actuator::StepSpec> {
    let v: Vec<serde_yaml_ng::Value> = serde_yaml_ng::from_str(yaml).unwrap();
    parse_steps(&v, &["us-east-1".into(), "eu-west-1".into()]).unwrap()
}

fn incident(id: u64) -> Incident {
    Incident {
        id,
        domain: "web".into(),
        from: "us-east-1".into(),
        to: "eu-west-1".into(),
        reason: "burning".into(),
        dry_run: false,
        chaos: false,
        approved: false,
    }
}

fn actuator(yaml: &str, journal: Journal, backends: Backends) -> Actuator {
    Actuator::new(steps(yaml), backends, Arc::new(Mutex::new(journal)))
}

const AURORA: &str = "- {name: db, kind: aurora_global, global_cluster: g1, poll_interval: 1s, clusters: {us-east-1: 'arn:aws:rds:us-east-1:1:cluster:a', eu-west-1: 'arn:aws:rds:eu-west-1:1:cluster:b'}";

#[tokio::test]
async fn runs_steps_in_order_and_journals_them() {
    let sns = Arc::new(RecordingSns::default());
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let yaml = format!(
        "- {{name: page, kind: sns, topic_arn: 'arn:aws:sns:us-east-1:1:oncall'}}\n- {{name: signal, kind: route53_signal}}\n- {{name: script, kind: exec, command: [sh, -c, 'echo $SLOGUARD_FROM-$SLOGUARD_TO > {}']}}\n",
        marker.display()
    );
    let backends = Backends {
        sns: Some(sns.clone()),
        ..Default::default()
    };
    let signals = backends.signals.clone();
    let a = actuator(&yaml, Journal::in_memory().unwrap(), backends);
    a.journal
        .lock()
        .unwrap()
        .open_incident(
            1,
            "web",
            "us-east-1",
            "eu-west-1",
            "burning",
            false,
            false,
            0,
        )
        .unwrap();
    let out = a.execute(&incident(1), || 100).await;
    assert!(out.ok, "{out:?}");
    assert_eq!(
        out.steps.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
        ["done", "done", "done"]
    );
    let sent = sns.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].contains("failing over web from us-east-1 to eu-west-1")
            && sent[0].contains("(\"incident\", \"1\")"),
        "{sent:?}"
    );
    assert!(signals.get("web", "eu-west-1") && !signals.get("web", "us-east-1"));
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "us-east-1-eu-west-1"
    );
    let rows = a.journal.lock().unwrap().incidents(5).unwrap();
    assert_eq!(rows[0].status, "done");
    assert_eq!(
        rows[0].steps.iter().filter(|s| s.status == "done").count(),
        3
    );
}

#[tokio::test]
async fn dry_run_records_the_exact_calls_and_changes_nothing() {
    let sns = Arc::new(RecordingSns::default());
    let fake = Arc::new(FakeAurora::new(
        "arn:aws:rds:us-east-1:1:cluster:a",
        &["arn:aws:rds:eu-west-1:1:cluster:b"],
    ));
    let backends = Backends {
        sns: Some(sns.clone()),
        aurora: Some(fake.clone()),
        ..Default::default()
    };
    let a = actuator(
        &format!(
            "- {{name: page, kind: sns, topic_arn: 'arn:aws:sns:us-east-1:1:t'}}\n{AURORA}}}\n"
        ),
        Journal::in_memory().unwrap(),
        backends,
    );
    let out = a
        .execute(
            &Incident {
                dry_run: true,
                ..incident(2)
            },
            || 0,
        )
        .await;
    assert!(out.ok);
    assert!(
        out.steps[0]
            .2
            .starts_with("sns:Publish TopicArn=arn:aws:sns:us-east-1:1:t"),
        "{:?}",
        out.steps
    );
    assert!(out.steps[1].2.contains("rds:SwitchoverGlobalCluster GlobalClusterIdentifier=g1 TargetDbClusterIdentifier=arn:aws:rds:eu-west-1:1:cluster:b"));
    assert!(sns.0.lock().unwrap().is_empty());
    assert!(fake.state.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn failing_step_is_retried_then_aborts_and_notifies() {
    let sns = Arc::new(RecordingSns::default());
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let yaml = format!(
        "- {{name: page, kind: sns, topic_arn: 'arn:aws:sns:us-east-1:1:t'}}\n- {{name: flaky, kind: exec, retries: 2, backoff: 1s, command: [sh, -c, 'echo x >> {}; exit 3']}}\n- {{name: never, kind: route53_signal}}\n",
        count.display()
    );
    let backends = Backends {
        sns: Some(sns.clone()),
        ..Default::default()
    };
    let signals = backends.signals.clone();
    let a = actuator(&yaml, Journal::in_memory().unwrap(), backends);
    let out = a.execute(&incident(3), || 0).await;
    assert!(!out.ok);
    assert_eq!(
        std::fs::read_to_string(&count).unwrap().lines().count(),
        3,
        "1 try + 2 retries"
    );
    assert_eq!(out.steps.len(), 2, "the runbook stops at the failed step");
    assert!(!signals.get("web", "eu-west-1"));
    let sent = sns.0.lock().unwrap().clone();
    assert!(
        sent.iter()
            .any(|m| m.contains("runbook ABORTED at step \"flaky\"")),
        "{sent:?}"
    );
}

#[tokio::test]
async fn continue_on_failure_and_idempotence_check() {
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let yaml = format!(
        "- {{name: optional, kind: exec, retries: 0, on_failure: continue, command: [\"false\"]}}\n- {{name: done-already, kind: exec, check: [\"true\"], command: [sh, -c, 'touch {}']}}\n- {{name: signal, kind: route53_signal}}\n",
        ran.display()
    );
    let a = actuator(&yaml, Journal::in_memory().unwrap(), Backends::default());
    let out = a.execute(&incident(4), || 0).await;
    assert!(out.ok, "{out:?}");
    assert_eq!(
        out.steps.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
        ["failed", "skipped", "done"]
    );
    assert!(!ran.exists(), "a step whose check says done is not run");
}

#[tokio::test]
async fn aurora_switchover_follows_aws_transitions() {
    let fake = Arc::new(FakeAurora::new(
        "arn:aws:rds:us-east-1:1:cluster:a",
        &["arn:aws:rds:eu-west-1:1:cluster:b"],
    ));
    let backends = Backends {
        aurora: Some(fake.clone()),
        ..Default::default()
    };
    let a = actuator(
        &format!("{AURORA}}}\n"),
        Journal::in_memory().unwrap(),
        backends.clone(),
    );
    let out = a.execute(&incident(5), || 0).await;
    assert!(out.ok, "{out:?}");
    let g = fake.describe("g1").await.unwrap();
    assert!(g
        .members
        .iter()
        .any(|m| m.cluster_arn.ends_with("cluster:b") && m.is_writer));
    assert!(g.failover_state.is_none());
    assert_eq!(
        fake.state.lock().unwrap().calls,
        vec!["switchover arn:aws:rds:eu-west-1:1:cluster:b".to_string()]
    );
    // Already the writer: a second run skips the step (idempotent).
    let again = actuator(
        &format!("{AURORA}}}\n"),
        Journal::in_memory().unwrap(),
        backends,
    );
    let out = again.execute(&incident(6), || 0).await;
    assert_eq!(out.steps[0].1, "skipped");
}

#[tokio::test]
async fn aurora_failover_with_data_loss_needs_approval() {
    let fake = Arc::new(FakeAurora::new(
        "arn:aws:rds:us-east-1:1:cluster:a",
        &["arn:aws:rds:eu-west-1:1:cluster:b"],
    ));
    let backends = Backends {
        aurora: Some(fake.clone()),
        ..Default::default()
    };
    let yaml = format!("{AURORA}, mode: failover, retries: 0}}\n");
    let a = actuator(&yaml, Journal::in_memory().unwrap(), backends.clone());
    let out = a.execute(&incident(7), || 0).await;
    assert!(!out.ok);
    assert!(
        out.steps[0].2.contains("needs an operator approval"),
        "{out:?}"
    );
    let a = actuator(&yaml, Journal::in_memory().unwrap(), backends);
    let out = a
        .execute(
            &Incident {
                approved: true,
                ..incident(8)
            },
            || 0,
        )
        .await;
    assert!(out.ok, "{out:?}");
    assert_eq!(
        fake.state.lock().unwrap().calls.last().unwrap(),
        "failover arn:aws:rds:eu-west-1:1:cluster:b"
    );
}

#[tokio::test]
async fn http_hook_sends_templated_json() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Arc::new(Mutex::new(String::new()));
    let g = got.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n = s.read(&mut buf).await.unwrap();
        *g.lock().unwrap() = String::from_utf8_lossy(&buf[..n]).to_string();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .await
            .unwrap();
    });
    let yaml = format!("- {{name: slack, kind: http, url: 'http://{addr}/hook', body: '{{\"text\": \"incident {{{{incident}}}}: {{{{from}}}} -> {{{{to}}}} ({{{{reason}}}})\"}}'}}\n");
    let a = actuator(&yaml, Journal::in_memory().unwrap(), Backends::default());
    let out = a
        .execute(
            &Incident {
                reason: "5xx \"spike\"".into(),
                ..incident(9)
            },
            || 0,
        )
        .await;
    assert!(out.ok, "{out:?}");
    let req = got.lock().unwrap().clone();
    assert!(req.starts_with("POST /hook"), "{req}");
    assert!(
        req.contains(r#"{"text": "incident 9: us-east-1 -> eu-west-1 (5xx \"spike\")"}"#),
        "{req}"
    );
}

#[test]
fn bad_step_configs_are_clear_errors() {
    let v: Vec<serde_yaml_ng::Value> = serde_yaml_ng::from_str(
        "- {kind: teleport}\n- {kind: sns, topic_arn: oncall}\n- {kind: route53_records, zone_id: '', record_name: x, records: {us-east-1: 1.1.1.1}}\n- {kind: exec, command: [], timeout: 5x}\n",
    )
    .unwrap();
    let errs = parse_steps(&v, &["us-east-1".into(), "eu-west-1".into()])
        .unwrap_err()
        .join("\n");
    for want in [
        "runbook[0]: unknown variant `teleport`",
        "runbook[1].topic_arn",
        "runbook[2].zone_id",
        "no record value for region eu-west-1",
        "runbook[3].timeout",
        "runbook[3].command",
    ] {
        assert!(errs.contains(want), "{want} missing from:\n{errs}");
    }
}

#[tokio::test]
async fn killed_run_resumes_without_repeating_completed_steps() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("journal.db");
    let log = dir.path().join("log");
    let gate = dir.path().join("gate");
    // Step 2 blocks until the gate file exists, so the run can be killed inside it.
    let yaml = format!(
        "- {{name: one, kind: exec, command: [sh, -c, 'echo one >> {log}']}}\n- {{name: two, kind: exec, timeout: 60s, command: [sh, -c, 'echo two-start >> {log}; while [ ! -f {gate} ]; do sleep 0.05; done; echo two-end >> {log}']}}\n- {{name: three, kind: exec, command: [sh, -c, 'echo three >> {log}']}}\n",
        log = log.display(),
        gate = gate.display()
    );
    {
        let j = Journal::open(&db).unwrap();
        j.open_incident(
            11,
            "web",
            "us-east-1",
            "eu-west-1",
            "burning",
            false,
            false,
            0,
        )
        .unwrap();
        let a = Arc::new(actuator(&yaml, j, Backends::default()));
        let run = {
            let a = a.clone();
            tokio::spawn(async move { a.execute(&incident(11), || 0).await })
        };
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("two-start")
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        run.abort(); // the process dies mid-step: the child is killed with it
        let _ = run.await;
    }
    std::fs::write(&gate, "").unwrap();
    let j = Journal::open(&db).unwrap();
    let unfinished = j.unfinished().unwrap();
    assert_eq!(
        unfinished.len(),
        1,
        "the journal shows the interrupted incident"
    );
    assert_eq!(unfinished[0].id, 11);
    let a = actuator(&yaml, j, Backends::default());
    let out = a.execute(&incident(11), || 10).await;
    assert!(out.ok, "{out:?}");
    assert_eq!(out.steps[0].1, "done-before");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines.iter().filter(|l| *l == "one").count(),
        1,
        "completed step not repeated: {lines:?}"
    );
    assert_eq!(lines.iter().filter(|l| *l == "three").count(), 1);
    assert!(lines.contains(&"two-end".to_string()));
    assert!(a.journal.lock().unwrap().unfinished().unwrap().is_empty());
}

/// SNS behind a fault-injecting server: throttling, then a 5xx, then success. The SDK
/// client the engine builds retries both, and the step succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_throttling_and_server_errors_are_retried() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(0usize));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = 0;
                loop {
                    let n = s.read(&mut buf[got..]).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got += n;
                    let text = String::from_utf8_lossy(&buf[..got]).to_string();
                    let Some(head) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let len: usize = text[..head]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got < head + 4 + len {
                        continue;
                    }
                    let n = {
                        let mut c = count.lock().unwrap();
                        *c += 1;
                        *c
                    };
                    let (status, body) = match n {
                        1 => ("400 Bad Request", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>".to_string()),
                        2 => ("503 Service Unavailable", "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>busy</Message></Error><RequestId>r2</RequestId></ErrorResponse>".to_string()),
                        _ => ("200 OK", "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>msg-3</MessageId></PublishResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></PublishResponse>".to_string()),
                    };
                    let resp = format!("HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    let _ = s.write_all(resp.as_bytes()).await;
                    got = 0;
                }
            });
        }
    });
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&url)
        .region(aws_config::Region::new("us-east-1"))
        .http_client(sloguard::actuator::aws::http_client())
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "k", "s", None, None, "static",
        ))
        .load()
        .await;
    let backends = Backends {
        sns: Some(Arc::new(sloguard::actuator::aws::SdkSns(
            aws_sdk_sns::Client::new(&conf),
        ))),
        ..Default::default()
    };
    let a = actuator(
        "- {name: page, kind: sns, topic_arn: 'arn:aws:sns:us-east-1:1:t', retries: 0}\n",
        Journal::in_memory().unwrap(),
        backends,
    );
    let out = a.execute(&incident(20), || 0).await;
    assert!(out.ok, "{out:?}");
    assert!(out.steps[0].2.contains("msg-3"), "{out:?}");
    assert_eq!(*seen.lock().unwrap(), 3, "throttled, 5xx, then success");
}

#[tokio::test]
async fn secrets_never_reach_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "super-secret-token").unwrap();
    let yaml = format!("- {{name: hook, kind: http, url: 'http://127.0.0.1:1/x', retries: 0, bearer_token_file: '{}', headers: {{X-Team: sre}}}}\n", token.display());
    let j = Journal::in_memory().unwrap();
    j.open_incident(
        21,
        "web",
        "us-east-1",
        "eu-west-1",
        "burning",
        false,
        false,
        0,
    )
    .unwrap();
    j.open_incident(
        22,
        "web",
        "us-east-1",
        "eu-west-1",
        "burning",
        true,
        false,
        0,
    )
    .unwrap();
    let a = actuator(&yaml, j, Backends::default());
    let _ = a.execute(&incident(21), || 0).await;
    let _ = a
        .execute(
            &Incident {
                dry_run: true,
                ..incident(22)
            },
            || 0,
        )
        .await;
    let rows = a.journal.lock().unwrap().incidents(10).unwrap();
    let all = serde_json::to_string(&rows).unwrap();
    assert!(all.contains("bearer token (from file)"), "{all}");
    assert!(!all.contains("super-secret-token"), "{all}");
}

/// Secrets in an `http` step's URL (userinfo, query values) and in an `exec` step's
/// arguments and output (stdout on success, stderr on failure) reach neither the journal's
/// step rows nor the run outcome, on a real run or a dry run.
#[tokio::test]
async fn url_and_command_output_secrets_never_reach_the_journal() {
    // A port nothing listens on: the HTTP client fails, and its error names the URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = format!(
        "- {{name: hook, kind: http, url: 'http://alice:pw-s3cr3t@127.0.0.1:{port}/hook?token=tok-abc123&x=1', retries: 0, on_failure: continue}}\n\
         - {{name: script, kind: exec, retries: 0, command: [sh, -c, 'echo key AKIAABCDEFGHIJKLMNOP; echo password=hunter2']}}\n\
         - {{name: failing, kind: exec, retries: 0, on_failure: continue, command: [sh, -c, 'echo Authorization: Bearer tok-abc123 >&2; echo password=hunter2 >&2; exit 4']}}\n"
    );
    let j = Journal::in_memory().unwrap();
    for (id, dry) in [(30, false), (31, true)] {
        j.open_incident(
            id,
            "web",
            "us-east-1",
            "eu-west-1",
            "burning",
            dry,
            false,
            0,
        )
        .unwrap();
    }
    let a = actuator(&yaml, j, Backends::default());
    let real = a.execute(&incident(30), || 0).await;
    let dry = a
        .execute(
            &Incident {
                dry_run: true,
                ..incident(31)
            },
            || 0,
        )
        .await;
    assert_eq!(
        real.steps.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
        ["failed", "done", "failed"],
        "{real:?}"
    );
    let rows = a.journal.lock().unwrap().incidents(10).unwrap();
    let details: Vec<&str> = rows
        .iter()
        .flat_map(|r| &r.steps)
        .map(|s| s.detail.as_str())
        .collect();
    // One row per attempt (its `started` row becomes `done`/`failed`), per incident.
    assert_eq!(details.len(), 6, "{details:?}");
    let all = format!(
        "{}\n{real:?}\n{dry:?}",
        serde_json::to_string(&rows).unwrap()
    );
    for secret in [
        "alice",
        "pw-s3cr3t",
        "tok-abc123",
        "AKIAABCDEFGHIJKLMNOP",
        "hunter2",
    ] {
        assert!(!all.contains(secret), "{secret} stored:\n{all}");
    }
    // Still useful: where the call went, that it failed, what the script said.
    let hook = &real.steps[0].2;
    assert!(
        hook.contains(&format!("http://***@127.0.0.1:{port}/hook?token=***&x=***")),
        "{hook}"
    );
    assert!(hook.contains("failed"), "{hook}");
    assert_eq!(real.steps[1].2, "exit 0: key ***\npassword=***");
    assert!(
        real.steps[2].2.contains("exit status: 4"),
        "{:?}",
        real.steps[2]
    );
}

/// An `exec` command gets an allow-listed environment: a variable of the engine's own is
/// not passed unless the step lists it in `env:`; the incident's variables always are.
#[tokio::test]
async fn exec_sees_only_allow_listed_environment() {
    // Safe in this edition; the name is this test's own, so no other test reads it.
    std::env::set_var("SLOGUARD_TEST_SECRET_ENV", "leak-me-42");
    let dir = tempfile::tempdir().unwrap();
    let (plain, listed) = (dir.path().join("plain"), dir.path().join("listed"));
    let yaml = format!(
        "- {{name: plain, kind: exec, command: [sh, -c, 'env > {}']}}\n\
         - {{name: listed, kind: exec, env: [SLOGUARD_TEST_SECRET_ENV, SLOGUARD_TEST_UNSET_ENV], command: [sh, -c, 'env > {}']}}\n",
        plain.display(),
        listed.display()
    );
    let a = actuator(&yaml, Journal::in_memory().unwrap(), Backends::default());
    let out = a.execute(&incident(32), || 0).await;
    assert!(out.ok, "{out:?}");
    let plain = std::fs::read_to_string(&plain).unwrap();
    let listed = std::fs::read_to_string(&listed).unwrap();
    assert!(!plain.contains("leak-me-42"), "{plain}");
    assert!(
        listed.contains("SLOGUARD_TEST_SECRET_ENV=leak-me-42"),
        "{listed}"
    );
    assert!(
        !listed.contains("SLOGUARD_TEST_UNSET_ENV"),
        "unset: not passed"
    );
    for env in [&plain, &listed] {
        assert!(env.contains("SLOGUARD_INCIDENT=32"), "{env}");
        assert!(env.contains("SLOGUARD_TO=eu-west-1"), "{env}");
        let names: Vec<&str> = env
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(n, _)| n)
            .collect();
        for name in names {
            assert!(
                [
                    "PATH",
                    "HOME",
                    "LANG",
                    "TZ",
                    "PWD",
                    "SHLVL",
                    "_",
                    "SLOGUARD_TEST_SECRET_ENV"
                ]
                .contains(&name)
                    || name.starts_with("SLOGUARD_") && !name.starts_with("SLOGUARD_TEST_"),
                "{name} was not allow-listed:\n{env}"
            );
        }
    }
}

/// A resumed run checks the world, not only the journal: a signal step the journal
/// records as done whose signal is gone runs again; one whose signal is up is not repeated.
#[tokio::test]
async fn resume_reruns_a_done_step_whose_effect_is_missing() {
    for (signal_up, want) in [(false, "done"), (true, "done-before")] {
        let j = Journal::in_memory().unwrap();
        j.open_incident(
            5,
            "web",
            "us-east-1",
            "eu-west-1",
            "burning",
            false,
            false,
            0,
        )
        .unwrap();
        j.record_step(
            5,
            0,
            1,
            "shift-traffic",
            "route53_signal",
            "done",
            "signal web/eu-west-1 raised",
            0,
        )
        .unwrap();
        let backends = Backends::default();
        if signal_up {
            backends.signals.set("web", "eu-west-1", true).unwrap();
        }
        let a = actuator(
            "- {name: shift-traffic, kind: route53_signal}\n",
            j,
            backends,
        );
        let out = a.execute(&incident(5), || 10).await;
        assert!(out.ok, "{out:?}");
        assert_eq!(
            out.steps[0].1, want,
            "signal up before: {signal_up}: {out:?}"
        );
        assert!(
            a.backends.signals.get("web", "eu-west-1"),
            "the effect is in place"
        );
        assert!(!a.backends.signals.get("web", "us-east-1"));
    }
}

/// The `slack` step posts Slack's incoming-webhook shape to the URL read from its file
/// (a local receiver checks it); the URL (the secret) reaches neither the journal nor the
/// outcome, and a dry run describes the call without posting.
#[tokio::test]
async fn slack_step_posts_the_incident_and_keeps_the_url_secret() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = tokio::spawn(async move {
        let (mut c, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = c.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                    return (head.to_string(), body.to_string());
                }
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let secret_url = format!("http://{addr}/services/T000/B000/s3cr3t-path");
    std::fs::write(dir.path().join("hook"), &secret_url).unwrap();
    let yaml = format!(
        "- {{name: chat, kind: slack, webhook_url_file: {}, link_base: 'https://sloguard.example.com'}}\n",
        dir.path().join("hook").display()
    );
    let j = Journal::in_memory().unwrap();
    j.open_incident(
        41,
        "web",
        "us-east-1",
        "eu-west-1",
        "burning",
        false,
        false,
        0,
    )
    .unwrap();
    let a = actuator(&yaml, j, Backends::default());
    let out = a.execute(&incident(41), || 5).await;
    assert!(out.ok, "{out:?}");
    let (head, body) = received.await.unwrap();
    assert!(
        head.starts_with("POST /services/T000/B000/s3cr3t-path"),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = v["text"].as_str().unwrap();
    assert!(
        text.contains("incident 41")
            && text.contains("us-east-1 to eu-west-1")
            && text.contains("burning"),
        "{text}"
    );
    assert_eq!(v["blocks"][0]["type"], "header");
    let fields = v["blocks"][1]["fields"].to_string();
    assert!(
        fields.contains("us-east-1 → eu-west-1")
            && fields.contains("https://sloguard.example.com/api/v1/incidents"),
        "{fields}"
    );
    let journal = serde_json::to_string(&a.journal.lock().unwrap().incidents(10).unwrap()).unwrap();
    assert!(!journal.contains("s3cr3t-path"), "{journal}");
    assert!(!format!("{out:?}").contains("s3cr3t-path"));
}
