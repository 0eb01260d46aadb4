//! A real moto server (Route 53, SNS) on a free loopback port, stopped on drop. The test
//! command installs it into target/moto-venv; a missing moto fails the test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::prom::free_port;

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    /// The environment that points a `sloguard` process's AWS clients at this server.
    pub fn aws_env(&self) -> [(&'static str, String); 4] {
        [
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    pub fn start() -> Moto {
        let bin = std::env::var("SLOGUARD_MOTO_SERVER").unwrap_or_else(|_| {
            format!(
                "{}/target/moto-venv/bin/moto_server",
                env!("CARGO_MANIFEST_DIR")
            )
        });
        assert!(
            std::path::Path::new(&bin).is_file(),
            "moto_server not found at {bin}: run scripts/test.sh, which installs moto[server]"
        );
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let m = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !Command::new("curl")
            .args(["-sf", &format!("{}/moto-api/", m.url)])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        m
    }

    /// An SDK configuration pointing at this moto.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .http_client(sloguard::actuator::aws::http_client())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "testing", "testing", None, None, "static",
            ))
            .load()
            .await
    }

    /// moto's whole state (`/moto-api/data.json`).
    pub fn data(&self) -> serde_json::Value {
        let o = Command::new("curl")
            .args(["-sf", &format!("{}/moto-api/data.json", self.url)])
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Creates `example.com.` with weighted `app.example.com` A records (us-east-1 at 100,
    /// eu-west-1 at 0) and an SNS topic `oncall`; returns (zone id, topic ARN).
    pub async fn weighted_zone_and_topic(&self) -> (String, String) {
        use sloguard::actuator::aws::{Route53Api, SdkRoute53, WeightedRecord};
        let conf = self.sdk().await;
        let r53 = aws_sdk_route53::Client::new(&conf);
        let zone = r53
            .create_hosted_zone()
            .name("example.com.")
            .caller_reference(format!("z-{}", std::process::id()))
            .send()
            .await
            .unwrap();
        let zone_id = zone
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string();
        SdkRoute53(r53)
            .upsert_weighted(
                &zone_id,
                "app.example.com",
                "A",
                60,
                &[
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
                ],
            )
            .await
            .unwrap();
        let topic = aws_sdk_sns::Client::new(&conf)
            .create_topic()
            .name("oncall")
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string();
        (zone_id, topic)
    }

    /// The (set identifier, weight) of the weighted `app.example.com` records, sorted.
    pub fn weights(&self, zone_id: &str) -> Vec<(String, i64)> {
        use sloguard::actuator::aws::{Route53Api, SdkRoute53};
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut out: Vec<(String, i64)> = rt
            .block_on(async {
                let conf = self.sdk().await;
                SdkRoute53(aws_sdk_route53::Client::new(&conf))
                    .weighted(zone_id, "app.example.com", "A")
                    .await
                    .unwrap()
            })
            .into_iter()
            .map(|r| (r.set_identifier, r.weight))
            .collect();
        out.sort();
        out
    }

    /// Every SNS notification moto recorded, as JSON text.
    pub fn sns_sent(&self) -> Vec<String> {
        self.data()["sns"]["Topic"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .flat_map(|t| {
                t["sent_notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| n.to_string())
            .collect()
    }
}
