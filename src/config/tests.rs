//! Parsing and validation of the config sections: sources, regions, probes, server.

use super::*;

#[test]
fn probes_and_sources_per_region() {
    let c = parse(
        Path::new("c.yaml"),
        "source:\n  regions:\n    a: {url: 'http://pa:9090/', timeout: 5s}\n    b: {url: 'http://pb:9090'}\nregions:\n  active: a\n  standby: [b]\n  down_after: 3m\n  probe_failures: 4\n  probes:\n    a: https://a.example/healthz\n    b: {url: 'https://b.example/healthz', interval: 5s, timeout: 1s, expect: 204}\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.region_sources["a"].url, "http://pa:9090");
    assert_eq!(c.region_sources["a"].timeout.secs(), 5);
    assert_eq!(c.region_sources["b"].url, "http://pb:9090");
    assert_eq!((c.regions.down_after, c.regions.probe_failures), (180, 4));
    let a = &c.regions.probes["a"];
    assert_eq!((a.interval.secs(), a.timeout.secs()), (10, 2));
    assert!(a.expect.accepts(200) && a.expect.accepts(299) && !a.expect.accepts(301));
    let b = &c.regions.probes["b"];
    assert_eq!(b.expect, ProbeExpect::Status(204));
    assert_eq!(b.interval.secs(), 5);
    // Defaults: one server, 2m, 3 probes, no probes.
    let d = parse(
        Path::new("c.yaml"),
        "source: {thanos: {url: 'http://x'}}\n",
        Path::new("."),
    )
    .unwrap();
    assert!(d.region_sources.is_empty() && d.regions.probes.is_empty());
    assert_eq!((d.regions.down_after, d.regions.probe_failures), (120, 3));
}

#[test]
fn bad_probes_and_sources_are_named() {
    let text = "source:\n  thanos: {url: 'http://x'}\n  regions: {a: {url: 'http://a'}}\nregions:\n  active: a\n  standby: [b]\n  probe_failures: 0\n  down_after: soon\n  probes:\n    a: ftp://a\n    c: http://c\n    b: {url: 'http://b', timeout: 20s, expect: 7xx}\n";
    let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), text, Path::new(".")) else {
        panic!("must fail")
    };
    let all = p.join("\n");
    for want in [
        "source: thanos and regions are exclusive",
        "regions.probe_failures",
        "regions.down_after",
        "regions.probes.a.url",
        "\"c\" (under regions.probes or source.regions) is neither",
        "regions.probes.b.timeout",
        "regions.probes.b.expect",
    ] {
        assert!(all.contains(want), "{want} missing in:\n{all}");
    }
    let text = "source:\n  regions: {a: {url: 'http://a'}}\nregions: {active: a, standby: [b]}\n";
    let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), text, Path::new(".")) else {
        panic!("must fail")
    };
    assert!(p.join("\n").contains("no server for region \"b\""), "{p:?}");
}

#[test]
fn minimal_config_has_defaults() {
    let c = parse(
        Path::new("c.yaml"),
        "source: {thanos: {url: http://127.0.0.1:9090}}\n",
        Path::new("/etc/sg"),
    )
    .unwrap();
    assert_eq!(c.specs, PathBuf::from("/etc/sg/slo-specs"));
    assert_eq!(c.evaluation.interval, Window::from_secs(30));
    assert!(!c.source.partial_response);
    assert_eq!(c.listen, "127.0.0.1:8080");
}

#[test]
fn every_problem_at_once() {
    let text = "source: {thanos: {url: ftp://x, timeout: 5x, headers: {\"bad header\": v}}}\nevaluation: {interval: 1m, lookback: 30s}\nregions: {active: a, standby: [a]}\nserver: {listen: nowhere}\n";
    let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), text, Path::new(".")) else {
        panic!()
    };
    let all = p.join("\n");
    for want in [
        "source.thanos.url",
        "source.thanos.timeout",
        "headers",
        "evaluation.lookback",
        "regions.standby",
        "server.listen",
    ] {
        assert!(all.contains(want), "{want} missing from:\n{all}");
    }
}

#[test]
fn every_unknown_key_at_once() {
    let Err(ConfigError::Invalid(p)) = parse(
        Path::new("c.yaml"),
        "source: {thanos: {url: http://x, tiemout: 1s}}\nsever: {}\nevaluation: {intervall: 1m}\n",
        Path::new("."),
    ) else {
        panic!()
    };
    let all = p.join("\n");
    for want in ["source.thanos.tiemout", "sever", "evaluation.intervall"] {
        assert!(
            all.contains(&format!("{want}: unknown key")),
            "{want}: {all}"
        );
    }
}

#[test]
fn server_settings_that_invite_trouble() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("short", "abc\n", 0o644);
    write("long", "0123456789abcdef0123\n", 0o600);
    let cfg = |server: &str| {
        parse(
            Path::new("c.yaml"),
            &format!("source: {{thanos: {{url: http://x}}}}\nserver: {server}\n"),
            dir.path(),
        )
    };
    let problems = |server: &str| match cfg(server) {
        Err(ConfigError::Invalid(p)) => p.join("\n"),
        other => panic!("{server}: {other:?}"),
    };
    // Beyond loopback without auth: refused, unless explicitly allowed.
    assert!(problems("{listen: '0.0.0.0:8080'}").contains("allow_unauthenticated"));
    assert!(cfg("{listen: '0.0.0.0:8080', allow_unauthenticated: true}").is_ok());
    assert!(problems("{max_body_bytes: 0}").contains("server.max_body_bytes"));
    assert!(problems("{max_concurrent_webhooks: 0}").contains("server.max_concurrent_webhooks"));
    assert!(problems("{signal_listen: nowhere}").contains("server.signal_listen"));
    assert!(
        problems("{listen: '127.0.0.1:8080', signal_listen: '127.0.0.1:8080'}")
            .contains("its own port")
    );
    let c = cfg("{signal_listen: '0.0.0.0:8081'}").unwrap();
    assert_eq!(c.signal_listen.as_deref(), Some("0.0.0.0:8081"));
    assert_eq!(c.max_concurrent_webhooks, DEFAULT_CONCURRENT_WEBHOOKS);
    assert!(problems(
        "{webhook_auth: {bearer_token_file: long, basic_auth: {username: u, password_file: long}}}"
    )
    .contains("exclusive"));
    assert!(problems("{api_token_file: long, api_token_env: HOME}").contains("exclusive"));
    // Legal but risky: warnings, not refusals.
    let c = cfg(
        "{listen: '0.0.0.0:8080', webhook_auth: {bearer_token_file: short}, api_token_file: short}",
    )
    .unwrap();
    let w = c.warnings.join("\n");
    for want in ["readable by group or others", "3 bytes", "share one token"] {
        assert!(w.contains(want), "{want}: {w}");
    }
    let c = cfg("{webhook_auth: {bearer_token_file: long}}").unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn unknown_key_is_named() {
    let Err(ConfigError::Invalid(p)) = parse(
        Path::new("c.yaml"),
        "source: {thanos: {url: http://x}}\nsever: {}\n",
        Path::new("."),
    ) else {
        panic!()
    };
    assert!(p[0].contains("sever: unknown key"), "{p:?}");
}

#[test]
fn backfill_points_defaults_and_refuses_zero() {
    let ok = parse(
        Path::new("c.yaml"),
        "source: {thanos: {url: 'http://x'}}\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(ok.evaluation.backfill_points, DEFAULT_BACKFILL_POINTS);
    let set = parse(
        Path::new("c.yaml"),
        "source: {thanos: {url: 'http://x'}}\nevaluation: {backfill_points: 50}\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(set.evaluation.backfill_points, 50);
    let Err(ConfigError::Invalid(p)) = parse(
        Path::new("c.yaml"),
        "source: {thanos: {url: 'http://x'}}\nevaluation: {backfill_points: 0}\n",
        Path::new("."),
    ) else {
        panic!("0 must be refused")
    };
    assert_eq!(
        p,
        ["c.yaml: evaluation.backfill_points: must be at least 1"]
    );
}
