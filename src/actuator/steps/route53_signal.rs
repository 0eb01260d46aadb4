//! `kind: route53_signal`: the data-plane failover. Raises this engine's own signal for
//! the target region on `GET /v1/signal/<domain>/<region>` (and lowers the source's);
//! Route 53 health checks on that endpoint move traffic, so no AWS call is made here.

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::step::{shell_line, Manual, ManualContext, Step};
use crate::actuator::{Backends, Incident};

pub const KIND: Kind = Kind::of::<Route53Signal>("route53_signal");

/// No settings: the domain and regions come from the incident.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Signal {}

impl Step for Route53Signal {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    /// The signal is this engine's own state: there is no separate call to make by hand.
    /// It is raised by the runbook (or the failover vote), so the manual form is to check it.
    fn manual(&self, inc: &Incident, ctx: &ManualContext) -> Manual {
        let signal = |region: &str| {
            shell_line(&[
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}\\n",
                &format!("{}/v1/signal/{}/{region}", ctx.engine_url, inc.domain),
            ])
        };
        Manual {
            commands: Vec::new(),
            verify: vec![signal(&inc.to), signal(&inc.from)],
            expect: format!(
                "200 for {} (failover requested), 503 for {}. The signal is the engine's own \
                 state, raised by this runbook and by the failover vote; nothing here raises \
                 it by hand (`sloguard route53 plan` shows how Route 53 reads the signals).",
                inc.to, inc.from
            ),
        }
    }

    fn describe(&self, inc: &Incident) -> String {
        format!(
            "signal GET /v1/signal/{}/{} -> 200 (failover requested)",
            inc.domain, inc.to
        )
    }

    fn verifiable(&self) -> bool {
        true
    }

    fn moves_traffic(&self) -> bool {
        true
    }

    fn is_done<'a>(
        &'a self,
        inc: &'a Incident,
        b: &'a Backends,
    ) -> BoxFut<'a, Result<bool, String>> {
        Box::pin(async move { Ok(b.signals.get(&inc.domain, &inc.to)) })
    }

    fn run<'a>(&'a self, inc: &'a Incident, b: &'a Backends) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            // Raise the target before lowering the source: a crash between the two leaves
            // traffic allowed to move, never both signals down mid-failover.
            b.signals.set(&inc.domain, &inc.to, true)?;
            b.signals.set(&inc.domain, &inc.from, false)?;
            Ok(format!("signal {}/{} raised", inc.domain, inc.to))
        })
    }
}
