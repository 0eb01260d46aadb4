//! The registry (every kind parses from YAML and names itself as registered; unknown
//! kinds list the valid ones), descriptions free of `Debug` dumps, and `StepSpec`
//! equality through the kinds' settings.

use super::{build, KINDS};
use crate::actuator::{describe, iam_policy, parse_steps, Incident, StepSpec};

/// One entry per kind, every option set where a kind has options.
const ALL_KINDS: &str = r#"
- {kind: sns, topic_arn: 'arn:aws:sns:us-east-1:1:oncall', subject: "web: failover"}
- {kind: route53_signal}
- {kind: route53_records, zone_id: Z1, record_name: app.example.com, type: CNAME, ttl: 30, records: {us-east-1: a.example.com, eu-west-1: b.example.com}}
- {kind: route53_health_check, health_check_id: hc-1, inverted: true}
- {kind: aurora_global, global_cluster: g1, mode: failover, clusters: {us-east-1: 'arn:aws:rds:us-east-1:123:cluster:a', eu-west-1: 'arn:aws:rds:eu-west-1:123:cluster:b'}}
- {kind: http, url: 'https://hooks.example.com/x?d={{domain}}', method: PUT, headers: {X-Team: sre, Authorization: 'Basic c2VjcmV0'}, bearer_token_file: /run/token, body: '{"text": "{{reason}}"}', redact: ['acct-[0-9]+']}
- {kind: exec, command: [/opt/fail over.sh, --to, "it's"], check: [/opt/check], env: [AWS_PROFILE], redact: ['acct-[0-9]+']}
- {kind: slack, webhook_url_file: /run/slack-webhook, link_base: 'https://sloguard.example.com'}
"#;

fn regions() -> Vec<String> {
    vec!["us-east-1".into(), "eu-west-1".into()]
}

fn parse(yaml: &str) -> Result<Vec<StepSpec>, Vec<String>> {
    let v: Vec<serde_yaml_ng::Value> = serde_yaml_ng::from_str(yaml).expect("test YAML");
    parse_steps(&v, &regions())
}

fn incident() -> Incident {
    Incident {
        id: 7,
        domain: "web".into(),
        from: "us-east-1".into(),
        to: "eu-west-1".into(),
        reason: "5xx \"spike\" (burn 14.4x)".into(),
        dry_run: true,
        chaos: false,
        approved: false,
    }
}

#[test]
fn every_registered_kind_parses_from_yaml() {
    let steps = parse(ALL_KINDS).expect("valid runbook");
    let parsed: Vec<&str> = steps.iter().map(StepSpec::kind).collect();
    let registered: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
    assert_eq!(parsed, registered, "ALL_KINDS covers the registry in order");
    assert_eq!(steps[0].name, "sns-0", "default name is kind-index");
}

#[test]
fn each_kind_names_itself_as_registered() {
    let steps = parse(ALL_KINDS).expect("valid runbook");
    for (kind, spec) in KINDS.iter().zip(&steps) {
        let name = kind.name;
        let rebuilt = (kind.parse)(serde_yaml_ng::to_value(spec.step.config()).expect("config"))
            .unwrap_or_else(|e| panic!("{name}: its own config does not parse back: {e}"));
        assert_eq!(rebuilt.kind(), name);
        assert_eq!(rebuilt.config(), spec.step.config(), "{name}");
    }
}

#[test]
fn unknown_kind_names_it_and_lists_the_valid_ones() {
    let errs = parse("- {kind: sns, topic_arn: 'arn:aws:sns:x'}\n- {kind: magic}\n").unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("runbook[1]: unknown variant `magic`"),
        "{errs:?}"
    );
    for name in KINDS.iter().map(|k| k.name) {
        assert!(
            errs[0].contains(&format!("`{name}`")),
            "{name} missing: {errs:?}"
        );
    }
    let Err(e) = build("magic", serde_yaml_ng::Value::Null) else {
        panic!("magic is not a kind")
    };
    assert!(e.contains("expected one of `sns`"), "{e}");
}

#[test]
fn missing_or_odd_kind_and_unknown_fields_are_named() {
    let errs = parse("- {topic_arn: x}\n- {kind: [sns]}\n- {kind: route53_signal, zone: Z}\n")
        .unwrap_err()
        .join("\n");
    for want in [
        "runbook[0]: missing field `kind`",
        "runbook[1].kind: must be one of `sns`",
        "runbook[2]: unknown field `zone`",
    ] {
        assert!(errs.contains(want), "{want} missing from:\n{errs}");
    }
}

#[test]
fn descriptions_are_readable_without_debug_dumps() {
    let steps = parse(ALL_KINDS).expect("valid runbook");
    let inc = incident();
    let d: Vec<String> = steps.iter().map(|s| describe(s, &inc)).collect();
    for text in &d {
        for dump in ["(\"", "[\"", "Some(", "None", "{:?}"] {
            assert!(!text.contains(dump), "debug formatting {dump:?} in: {text}");
        }
    }
    assert_eq!(
        d[0],
        "sns:Publish TopicArn=arn:aws:sns:us-east-1:1:oncall Subject='web: failover' \
         Message='sloguard incident 7: failing over web from us-east-1 to eu-west-1: 5xx \"spike\" (burn 14.4x)' \
         MessageAttributes incident=7 domain=web from=us-east-1 to=eu-west-1 \
         reason='5xx \"spike\" (burn 14.4x)' chaos=false"
    );
    assert_eq!(
        d[1],
        "signal GET /v1/signal/web/eu-west-1 -> 200 (failover requested)"
    );
    assert_eq!(
        d[2],
        "route53:ChangeResourceRecordSets HostedZoneId=Z1 UPSERT app.example.com CNAME TTL=30 \
         weights [eu-west-1=b.example.com@100, us-east-1=a.example.com@0]; wait INSYNC"
    );
    assert!(d[3].starts_with("route53:UpdateHealthCheck HealthCheckId=hc-1 Inverted=true"));
    assert!(d[4].starts_with(
        "rds:FailoverGlobalCluster GlobalClusterIdentifier=g1 \
         TargetDbClusterIdentifier=arn:aws:rds:eu-west-1:123:cluster:b AllowDataLoss=true"
    ));
    assert_eq!(
        d[5],
        "http PUT https://hooks.example.com/x?d=*** headers Authorization, X-Team \
         + bearer token (from file) body {\"text\": \"5xx \\\"spike\\\" (burn 14.4x)\"}"
    );
    assert_eq!(
        d[6],
        "exec '/opt/fail over.sh' --to 'it'\\''s' with SLOGUARD_INCIDENT=7 \
         SLOGUARD_FROM=us-east-1 SLOGUARD_TO=eu-west-1 + env AWS_PROFILE"
    );
}

#[test]
fn descriptions_redact_urls_arguments_and_bodies() {
    let steps = parse(
        "- {kind: http, url: 'https://bot:pw-123@hooks.example.com/x?token=t-456&d={{domain}}', body: '{\"password\": \"pw-789\", \"acct\": \"acct-42\"}', redact: ['acct-[0-9]+']}\n\
         - {kind: exec, command: [/opt/dr.sh, --password, pw-123, 'https://u:pw-456@h/x', 'AKIAABCDEFGHIJKLMNOP', acct-42], redact: ['acct-[0-9]+']}\n",
    )
    .expect("valid runbook");
    let inc = incident();
    let http = describe(&steps[0], &inc);
    assert_eq!(
        http,
        "http POST https://***@hooks.example.com/x?token=***&d=*** \
         body {\"password\": ***, \"acct\": \"***\"}"
    );
    let exec = describe(&steps[1], &inc);
    for secret in ["pw-123", "pw-456", "AKIAABCDEFGHIJKLMNOP", "acct-42"] {
        assert!(!exec.contains(secret), "{secret} in {exec}");
    }
    assert!(
        exec.starts_with("exec /opt/dr.sh --password *** https://***@h/x *** ***"),
        "{exec}"
    );
}

#[test]
fn new_keys_are_checked_and_unknown_keys_still_rejected() {
    let errs = parse(
        "- {kind: exec, command: [x], env: ['A=B', ''], redact: ['(']}\n\
         - {kind: http, url: 'https://u:pw@h/x', redact: ['[']}\n\
         - {kind: exec, command: [x], environment: [A]}\n\
         - {kind: http, url: 'https://h/x', redacts: [a]}\n",
    )
    .unwrap_err()
    .join("\n");
    for want in [
        "runbook[0].env[0]: \"A=B\" is not a variable name",
        "runbook[0].env[1]",
        "runbook[0].redact[0]: ",
        "runbook[1].redact[0]: ",
        "runbook[2]: unknown field `environment`",
        "runbook[3]: unknown field `redacts`",
    ] {
        assert!(errs.contains(want), "{want} missing from:\n{errs}");
    }
}

#[test]
fn descriptions_never_show_header_values() {
    let steps = parse(ALL_KINDS).expect("valid runbook");
    let d = describe(&steps[5], &incident());
    assert!(!d.contains("c2VjcmV0") && !d.contains("sre"), "{d}");
}

#[test]
fn steps_compare_by_kind_and_settings() {
    let a = parse(ALL_KINDS).expect("valid runbook");
    let b = parse(ALL_KINDS).expect("valid runbook");
    assert_eq!(a, b);
    let c = parse(&ALL_KINDS.replace("ttl: 30", "ttl: 31")).expect("valid runbook");
    assert_ne!(a, c);
    // A default written out equals the default left out.
    let d = parse("- {kind: route53_records, zone_id: Z1, record_name: x, records: {us-east-1: a, eu-west-1: b}}\n");
    let e = parse("- {kind: route53_records, zone_id: Z1, record_name: x, type: A, ttl: 60, records: {us-east-1: a, eu-west-1: b}}\n");
    assert_eq!(d, e);
}

#[test]
fn only_aws_kinds_need_aws_and_grant_iam() {
    let steps = parse(ALL_KINDS).expect("valid runbook");
    let aws: Vec<&str> = steps
        .iter()
        .filter(|s| s.needs_aws())
        .map(StepSpec::kind)
        .collect();
    assert_eq!(
        aws,
        [
            "sns",
            "route53_records",
            "route53_health_check",
            "aurora_global"
        ]
    );
    for s in &steps {
        let policy = iam_policy(&[s]);
        let n = policy["Statement"].as_array().map_or(0, Vec::len);
        assert_eq!(n > 0, s.needs_aws(), "{}: {policy}", s.kind());
    }
}
