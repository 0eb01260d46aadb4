//! Runbook steps against moto (real AWS API emulation on loopback): Route 53 weighted
//! records changed as planned and read back, idempotent on a second run; health-check
//! inversion; SNS message with attributes published and read back from moto's state.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::sync::{Arc, Mutex};

use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType, RrType};
use common::moto::Moto;
use sloguard::actuator::aws::{SdkRoute53, SdkSns, WeightedRecord};
use sloguard::actuator::{parse_steps, Actuator, Backends, Incident};
use sloguard::journal::Journal;

fn incident(id: u64) -> Incident {
    Incident {
        id,
        domain: "web".into(),
        from: "us-east-1".into(),
        to: "eu-west-1".into(),
        reason: "us-east-1 burning".into(),
        dry_run: false,
        chaos: false,
        approved: false,
    }
}

fn actuator(yaml: &str, backends: Backends) -> Actuator {
    let v: Vec<serde_yaml_ng::Value> = serde_yaml_ng::from_str(yaml).unwrap();
    Actuator::new(
        parse_steps(&v, &["us-east-1".into(), "eu-west-1".into()]).unwrap(),
        backends,
        Arc::new(Mutex::new(Journal::in_memory().unwrap())),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_weighted_records_and_health_check() {
    let moto = Moto::start();
    let conf = moto.sdk().await;
    let r53 = aws_sdk_route53::Client::new(&conf);
    let zone = r53
        .create_hosted_zone()
        .name("example.com.")
        .caller_reference("t1")
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let api = Arc::new(SdkRoute53(r53.clone()));
    use sloguard::actuator::aws::Route53Api;
    let initial = [
        WeightedRecord {
            set_identifier: "us-east-1".into(),
            value: "10.0.0.1".into(),
            weight: 100,
        },
        WeightedRecord {
            set_identifier: "eu-west-1".into(),
            value: "10.1.0.1".into(),
            weight: 0,
        },
    ];
    api.upsert_weighted(&zone_id, "app.example.com", "A", 60, &initial)
        .await
        .unwrap();

    let hc = r53
        .create_health_check()
        .caller_reference("hc1")
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name("app.us-east-1.example.com")
                .port(443)
                .resource_path("/healthz")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let hc_id = hc.health_check().unwrap().id().to_string();

    let yaml = format!(
        "- {{name: dns, kind: route53_records, zone_id: '{zone_id}', record_name: app.example.com, type: A, ttl: 60, records: {{us-east-1: 10.0.0.1, eu-west-1: 10.1.0.1}}}}\n- {{name: invert-primary, kind: route53_health_check, health_check_id: '{hc_id}', inverted: true}}\n"
    );
    let backends = Backends {
        route53: Some(api.clone()),
        ..Default::default()
    };
    let out = actuator(&yaml, backends.clone())
        .execute(&incident(1), || 0)
        .await;
    assert!(out.ok, "{out:?}");
    assert_eq!(
        out.steps.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
        ["done", "done"]
    );

    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .send()
        .await
        .unwrap();
    let weights: Vec<(String, i64)> = sets
        .resource_record_sets()
        .iter()
        .filter(|r| r.r#type() == &RrType::A)
        .map(|r| {
            (
                r.set_identifier().unwrap_or_default().to_string(),
                r.weight().unwrap_or(-1),
            )
        })
        .collect();
    assert!(
        weights.contains(&("eu-west-1".to_string(), 100))
            && weights.contains(&("us-east-1".to_string(), 0)),
        "{weights:?}"
    );
    let inverted = r53
        .get_health_check()
        .health_check_id(&hc_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        inverted
            .health_check()
            .unwrap()
            .health_check_config()
            .unwrap()
            .inverted(),
        Some(true)
    );

    // A second run reads the state first and changes nothing.
    let out = actuator(&yaml, backends).execute(&incident(2), || 0).await;
    assert_eq!(
        out.steps.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
        ["skipped", "skipped"],
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_message_published_with_attributes() {
    let moto = Moto::start();
    let conf = moto.sdk().await;
    let sns = aws_sdk_sns::Client::new(&conf);
    let topic = sns
        .create_topic()
        .name("sloguard-oncall")
        .send()
        .await
        .unwrap();
    let arn = topic.topic_arn().unwrap().to_string();
    let backends = Backends {
        sns: Some(Arc::new(SdkSns(sns))),
        ..Default::default()
    };
    let out = actuator(
        &format!("- {{name: page, kind: sns, topic_arn: '{arn}', subject: 'sloguard failover'}}\n"),
        backends,
    )
    .execute(&incident(7), || 0)
    .await;
    assert!(out.ok, "{out:?}");
    let data = moto.data();
    let topics = data["sns"]["Topic"].as_array().unwrap();
    let sent = topics
        .iter()
        .flat_map(|t| {
            t["sent_notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect::<Vec<_>>();
    assert_eq!(sent.len(), 1, "{data}");
    let text = sent[0].to_string();
    for want in [
        "sloguard incident 7",
        "failing over web from us-east-1 to eu-west-1",
        "sloguard failover",
        "\"incident\"",
        "\"7\"",
        "eu-west-1",
    ] {
        assert!(text.contains(want), "{want} missing from {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_apply_sets_up_quorum_health_checks_and_failover_records() {
    let moto = Moto::start();
    let conf = moto.sdk().await;
    let r53 = aws_sdk_route53::Client::new(&conf);
    let zone = r53
        .create_hosted_zone()
        .name("example.com.")
        .caller_reference("z2")
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("slo-specs")).unwrap();
    std::fs::write(
        dir.path().join("slo-specs/api.yaml"),
        common::sloth_spec(
            "api",
            "sum(rate(x{c=\"5\"}[{{.window}}]))",
            "sum(rate(x[{{.window}}]))",
        ),
    )
    .unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        format!(
            "source: {{thanos: {{url: http://127.0.0.1:1}}}}\nregions: {{active: us-east-1, standby: [eu-west-1]}}\nfailover:\n  replica: sg-1\n  peers: [https://sg-2.example.com, https://sg-3.example.com]\n  policy: {{quorum: 2}}\n  domains:\n    - name: web\n      runbook: [{{kind: route53_signal}}]\n      route53:\n        zone_id: '{zone_id}'\n        record_name: app.example.com\n        replicas: [https://sg-1.example.com, https://sg-2.example.com, https://sg-3.example.com:8443/engine]\n        records: {{us-east-1: app-use1.example.com, eu-west-1: app-euw1.example.com}}\n"
        ),
    )
    .unwrap();
    let apply = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sloguard"))
            .args(["route53", "apply", "--config"])
            .arg(&config)
            .envs(moto.aws_env())
            .output()
            .unwrap()
    };
    let o = apply();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let checks = r53.list_health_checks().send().await.unwrap();
    let hcs = checks.health_checks();
    assert_eq!(hcs.len(), 4, "3 replica checks + 1 calculated");
    let replica_checks: Vec<_> = hcs
        .iter()
        .filter(|h| {
            h.health_check_config()
                .is_some_and(|c| c.r#type() == &HealthCheckType::Https)
        })
        .collect();
    assert_eq!(replica_checks.len(), 3);
    for h in &replica_checks {
        let c = h.health_check_config().unwrap();
        assert_eq!(
            c.inverted(),
            Some(true),
            "an engine outage must never fail over"
        );
        assert!(
            c.resource_path()
                .unwrap()
                .ends_with("/v1/signal/web/eu-west-1"),
            "{:?}",
            c.resource_path()
        );
    }
    let calc = hcs
        .iter()
        .find(|h| {
            h.health_check_config()
                .is_some_and(|c| c.r#type() == &HealthCheckType::Calculated)
        })
        .unwrap();
    assert_eq!(
        calc.health_check_config().unwrap().health_threshold(),
        Some(2)
    );
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .send()
        .await
        .unwrap();
    let primary = sets
        .resource_record_sets()
        .iter()
        .find(|r| r.failover().map(|f| f.as_str()) == Some("PRIMARY"))
        .unwrap();
    assert_eq!(primary.health_check_id(), Some(calc.id()));
    assert_eq!(
        primary.resource_records()[0].value(),
        "app-use1.example.com"
    );
    assert!(sets
        .resource_record_sets()
        .iter()
        .any(|r| r.failover().map(|f| f.as_str()) == Some("SECONDARY")));
    // Idempotent: a second apply creates no new health checks.
    assert!(apply().status.success());
    assert_eq!(
        r53.list_health_checks()
            .send()
            .await
            .unwrap()
            .health_checks()
            .len(),
        4
    );
}
