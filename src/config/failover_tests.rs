//! Validation of the failover section: policy, peers, domains and their runbooks.

use super::*;

#[test]
fn bad_failover_configs_are_clear_errors_at_start_up() {
    let text = "source: {thanos: {url: http://x}}\nregions: {active: a, standby: [b]}\nfailover:\n  policy: {cooldown: soon, quorum: 3}\n  domains:\n    - name: web\n      runbook:\n        - {kind: sns}\n        - {kind: magic}\n        - {kind: aurora_global, global_cluster: g, clusters: {a: 'arn:aws:rds:x'}}\n        - {kind: route53_records, zone_id: Z1, record_name: x, records: {a: 1.1.1.1, b: 2.2.2.2}, ttl: 1m}\n";
    let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), text, Path::new(".")) else {
        panic!("must fail")
    };
    let all = p.join("\n");
    for want in [
        "failover.policy.cooldown",
        "failover.policy.quorum",
        "runbook[0]: missing field `topic_arn`",
        "runbook[1]: unknown variant `magic`",
        "runbook[2].clusters: no cluster ARN for region b",
        "runbook[3]: invalid type",
    ] {
        assert!(all.contains(want), "{want} missing from:\n{all}");
    }
}

const AMBIGUOUS: &str = "source: {thanos: {url: http://x}}\nregions: {active: a, standby: [b, c, b]}\nfailover:\n  policy: {consecutive: 0}\n  domains:\n    - name: web\n      runbook:\n        - {name: signal, kind: route53_signal}\n        - {name: signal, kind: route53_signal}\n    - name: db\n      runbook: [{kind: route53_signal}, {name: route53_signal-0, kind: route53_signal}]\n    - name: web\n      runbook: [{name: signal, kind: route53_signal}]\n";

#[test]
fn ambiguous_configs_are_refused_naming_each_field() {
    let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), AMBIGUOUS, Path::new(".")) else {
        panic!("must fail")
    };
    let all = p.join("\n");
    for want in [
        "c.yaml: failover.domains[2].name: duplicate domain name \"web\"",
        "c.yaml: regions.standby[2]: duplicate standby region \"b\"",
        "c.yaml: failover.domains[0].runbook[1].name: duplicate step name \"signal\" (also runbook[0])",
        "c.yaml: failover.domains[1].runbook[1].name: duplicate step name \"route53_signal-0\" (also runbook[0])",
        "c.yaml: failover.policy.consecutive: 0 must be at least 1",
    ] {
        assert!(all.contains(want), "{want} missing from:\n{all}");
    }
    assert_eq!(p.len(), 5, "one problem per mistake, all at once:\n{all}");
}

#[test]
fn unknown_gating_slos_are_refused_listing_the_known_ones() {
    let text = "source: {thanos: {url: http://x}}\nregions: {active: a, standby: [b]}\nfailover:\n  domains:\n    - name: web\n      slos: [api/availability, api/latency]\n      runbook: [{kind: route53_signal}]\n    - name: all\n      runbook: [{kind: route53_signal}]\n";
    let cfg = parse(Path::new("c.yaml"), text, Path::new(".")).unwrap();
    let spec = "version: prometheus/v1\nservice: api\nslos:\n  - name: availability\n    objective: 99.9\n    sli: {events: {error_query: 'sum(rate(e[{{.window}}]))', total_query: 'sum(rate(t[{{.window}}]))'}}\n    alerting: {name: ApiBurn, page_alert: {labels: {severity: critical}}, ticket_alert: {labels: {severity: warning}}}\n";
    let services = crate::slo::parse_all(&[(PathBuf::from("api.yaml"), spec.to_string())]).unwrap();
    let Err(ConfigError::Invalid(p)) = check_against_specs(&cfg, &services) else {
        panic!("api/latency is not defined")
    };
    assert_eq!(
        p,
        vec!["c.yaml: failover.domains[0].slos[1]: unknown SLO \"api/latency\" (known, as service/slo: api/availability)".to_string()]
    );
    let only_known = text.replace(", api/latency", "");
    let cfg = parse(Path::new("c.yaml"), &only_known, Path::new(".")).unwrap();
    check_against_specs(&cfg, &services).unwrap();
}
