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
