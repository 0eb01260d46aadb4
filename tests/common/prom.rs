//! A real Prometheus 2.42 for tests: backfills OpenMetrics data with promtool, starts the
//! server on a free loopback port with the given rule files, and stops it on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tool;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Prometheus {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
}

impl Prometheus {
    /// Backfills `openmetrics` into a fresh TSDB under `dir` and starts Prometheus with
    /// `rule_files` (paths relative to `dir` or absolute).
    pub fn start(dir: &Path, openmetrics: &str, rule_files: &[PathBuf]) -> Prometheus {
        Self::start_with(dir, openmetrics, rule_files, "")
    }

    /// As [`Self::start`], with extra top-level configuration (e.g. `alerting:`).
    pub fn start_with(
        dir: &Path,
        openmetrics: &str,
        rule_files: &[PathBuf],
        extra: &str,
    ) -> Prometheus {
        Self::start_with_blocks(dir, openmetrics, rule_files, extra, None)
    }

    /// As [`Self::start_with`], with the TSDB blocks under `blocks` (e.g. recording rules
    /// backfilled by `promtool tsdb create-blocks-from rules`) added before the start.
    pub fn start_with_blocks(
        dir: &Path,
        openmetrics: &str,
        rule_files: &[PathBuf],
        extra: &str,
        blocks: Option<&Path>,
    ) -> Prometheus {
        let data = dir.join("backfill.om");
        std::fs::write(&data, openmetrics).unwrap();
        let tsdb = dir.join("tsdb");
        let o = Command::new(tool("promtool"))
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&data)
            .arg(&tsdb)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool backfill: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if let Some(blocks) = blocks {
            for e in std::fs::read_dir(blocks).unwrap().flatten() {
                let to = tsdb.join(e.file_name());
                let o = Command::new("cp")
                    .arg("-r")
                    .arg(e.path())
                    .arg(&to)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "copying block {}", e.path().display());
            }
        }
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| format!("'{}'", p.display()))
            .collect();
        let cfg = dir.join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!("global: {{evaluation_interval: 5s, scrape_interval: 30s}}\nrule_files: [{}]\nscrape_configs: []\n{extra}", rules.join(", ")),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=60d")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new("curl")
                .args(["-sf", &format!("{}/-/ready", p.url)])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus did not become ready: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    /// An instant query's vector result as (labels, value) pairs.
    pub fn query(&self, expr: &str, at: i64) -> Vec<(serde_json::Value, f64)> {
        let o = Command::new("curl")
            .args([
                "-sf",
                "--data-urlencode",
                &format!("query={expr}"),
                "--data-urlencode",
                &format!("time={at}"),
            ])
            .arg(format!("{}/api/v1/query", self.url))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "query {expr}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["metric"].clone(),
                    r["value"][1].as_str().unwrap().parse::<f64>().unwrap(),
                )
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
