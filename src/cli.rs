//! clap definitions of every `sloguard` subcommand and its flags (the CLI contract).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// `sloguard --version`: the crate version and the Git commit the binary was built from
/// (`-dirty` when the tree had uncommitted changes; `unknown` outside a checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SLOGUARD_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "sloguard",
    version = VERSION,
    about = "SLO burn-rate engine: Sloth-compatible rules per region, proven by promtool"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RuleFormat {
    /// Prometheus rule files plus promtool unit tests.
    Prometheus,
    /// prometheus-operator PrometheusRule objects.
    PrometheusOperator,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Md,
    Html,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every spec; exit 1 listing every problem as `file: slo: message`.
    Validate {
        #[arg(long, default_value = "slo-specs")]
        specs: PathBuf,
        /// Treat warnings (unknown keys in Sloth's format) as errors: exit 1 on any.
        #[arg(long)]
        strict: bool,
    },
    /// Generate rules/<service>.yaml and rules/tests/<service>_test.yaml from the specs.
    Generate {
        #[arg(long, default_value = "slo-specs")]
        specs: PathBuf,
        #[arg(long, default_value = "rules")]
        out: PathBuf,
        /// Write nothing; exit 1 naming every file that would change.
        #[arg(long)]
        check: bool,
        #[arg(long, value_enum, default_value_t = RuleFormat::Prometheus)]
        format: RuleFormat,
        /// ArgoCD sync-wave annotation on PrometheusRule objects.
        #[arg(long, allow_hyphen_values = true)]
        sync_wave: Option<i64>,
        /// Namespace of PrometheusRule objects.
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Print the JSON Schema (draft 2020-12) of `sloguard/v1` and `prometheus/v1` spec files.
    Schema,
    /// Convert SLOs of another format into `sloguard/v1` specs (stdout, or --out DIR).
    Import {
        #[arg(value_enum)]
        format: ImportFormat,
        /// Files to read (all of them together: references resolve across files).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write `<service>.yaml` per service into this directory instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the specs as documents of another format (stdout, or --out FILE).
    Export {
        #[arg(value_enum)]
        format: ExportFormat,
        #[arg(long, default_value = "slo-specs")]
        specs: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Specs that are legal but doubtful: tiers that can never fire, windows shorter than
    /// four scrape intervals, and (with --data, OpenMetrics as for backtest) budgets a
    /// single request exhausts or tiers the traffic seen can never fire. Exit 1 on findings.
    Lint {
        #[arg(long, default_value = "slo-specs")]
        specs: PathBuf,
        /// OpenMetrics counters representative of real traffic (as `backtest --data`).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value = "1m")]
        scrape_interval: String,
    },
    /// Per SLO and tier: threshold, budget consumed when it fires, detection and reset times.
    Explain {
        #[arg(long, default_value = "slo-specs")]
        specs: PathBuf,
    },
    /// Replay counters through the streaming core: every alert firing and resolution, and
    /// the final error ratio and burn rate of every window. From an OpenMetrics file
    /// (`--specs --data`), or from the configured source over a past range (`--config
    /// --start --end`).
    Backtest {
        #[arg(long, default_value = "slo-specs")]
        specs: PathBuf,
        /// OpenMetrics text (as `promtool tsdb create-blocks-from openmetrics` reads; timestamps in seconds).
        #[arg(long, conflicts_with = "config")]
        data: Option<PathBuf>,
        /// Engine configuration: replay from its source instead of a file.
        #[arg(long, requires_all = ["start", "end"])]
        config: Option<PathBuf>,
        /// Start of the replayed range (RFC 3339 or unix seconds), with --config.
        #[arg(long)]
        start: Option<String>,
        /// End of the replayed range (RFC 3339 or unix seconds), with --config.
        #[arg(long)]
        end: Option<String>,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// Evaluation interval (file replays).
        #[arg(long, default_value = "30s")]
        step: String,
        /// Buckets per window (edge error at most 1/K).
        #[arg(long, default_value_t = 30)]
        k: u32,
        /// How late a sample may arrive and still count.
        #[arg(long, default_value = "5m")]
        lateness: String,
    },
    /// One backfill and evaluation against the configured source at TIME (default now).
    Eval {
        #[arg(long)]
        config: PathBuf,
        /// RFC 3339 or unix seconds.
        #[arg(long)]
        at: Option<String>,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Run the engine: backfill, evaluate every interval, serve /metrics, /api/v1/status,
    /// /healthz and /readyz.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// The failover incidents recorded in the journal, newest first, with their steps.
    Incidents {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Incident playbooks (Markdown): what triggers each domain's failover, the guards,
    /// every runbook step with its API call, the manual command and how to verify it,
    /// failback, who is paged and the GameDay scenarios that rehearse it.
    Playbook {
        #[arg(long)]
        config: PathBuf,
        /// Only this failover domain (default: every domain).
        #[arg(long)]
        domain: Option<String>,
        /// Write `<domain>.md` per domain into this directory instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// GameDay scenarios to list (default: `tests/gameday` or `gameday` beside the config).
        #[arg(long)]
        scenarios: Option<PathBuf>,
    },
    /// Post-incident report of a journaled incident: the timeline (first burn, page,
    /// decision, each step and its duration), the burn rates and data state behind the
    /// decision, the budget consumed per SLO and region, and the guards checked.
    Report {
        /// The incident number (`sloguard incidents`).
        incident: u64,
        #[arg(long)]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// Read this journal instead of the config's `failover.journal` (e.g. one kept by
        /// `gameday --journal`).
        #[arg(long)]
        journal: Option<PathBuf>,
    },
    /// Print the least-privilege IAM policy for exactly the configured runbook steps.
    IamPolicy {
        #[arg(long)]
        config: PathBuf,
    },
    /// Set up the data-plane failover in Route 53: one inverted health check per replica
    /// on its signal endpoint, a calculated quorum check, PRIMARY/SECONDARY records.
    Route53 {
        #[arg(value_enum)]
        action: Route53Action,
        #[arg(long)]
        config: PathBuf,
    },
    /// The engine's current state from a running `serve` (GET /api/v1/status).
    Status {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Ask a running engine to fail a domain over (respects the guards unless --force).
    Failover {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long)]
        domain: String,
        #[arg(long)]
        target: String,
        #[arg(long)]
        reason: String,
        /// Skip the guards (needs a reason).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        token: TokenArgs,
    },
    /// Approve a failover awaiting approval.
    Approve {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        incident: u64,
        /// Why (journaled with the call; required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        token: TokenArgs,
    },
    /// Leave an incomplete failover (a runbook that stopped after moving traffic):
    /// finish its remaining steps, roll back what moved, or accept the world as it is.
    Resolve {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        incident: u64,
        /// finish, roll-back or accept.
        #[arg(long, value_parser = ["finish", "roll-back", "accept"])]
        action: String,
        /// Why (journaled with the call; required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        token: TokenArgs,
    },
    /// Re-arm a domain's automation after a failover.
    Rearm {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long)]
        domain: String,
        /// Why (journaled with the call; required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        token: TokenArgs,
    },
    /// Fail a domain back to the region its last failover left (manual; passes the
    /// same guards as a failover, cooldown and quorum included, unless --force).
    Failback {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long)]
        domain: String,
        #[arg(long)]
        target: String,
        #[arg(long)]
        reason: String,
        /// Skip the guards (needs a reason).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        token: TokenArgs,
    },
    /// See everything at once: the engine on a simulated two-region world (default: the
    /// primary-outage GameDay) in accelerated real time, with the dashboard and API at
    /// --listen and a live timeline in the terminal. No network or config needed.
    Demo {
        /// A GameDay scenario (default: the built-in primary outage).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 60.0)]
        speed: f64,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Exit when the scenario ends (0 when every expectation held, 1 otherwise)
        /// instead of serving until Ctrl-C.
        #[arg(long)]
        exit_when_done: bool,
        /// Show the engine's own logs (info level) on stderr, not only warnings.
        #[arg(long)]
        verbose: bool,
    },
    /// Rehearse an outage: run a GameDay scenario through the real engine, policy and
    /// (dry-run) runbook in simulated time; exit 1 when an expectation fails.
    Gameday {
        #[arg(long)]
        scenario: PathBuf,
        /// Rehearse this engine config file (its regions, evaluation, policy, domains and
        /// runbooks, on dry-run step backends) instead of the scenario defaults.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// Keep the drill's journal in this file (for `sloguard report --journal`).
        #[arg(long)]
        journal: Option<PathBuf>,
    },
}

/// The operator API token, read from a file (or the file named by SLOGUARD_API_TOKEN_FILE).
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[arg(long, env = "SLOGUARD_API_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Route53Action {
    /// Print the calls.
    Plan,
    /// Make the calls.
    Apply,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ImportFormat {
    /// OpenSLO openslo/v1 (Service, SLI, SLO, AlertPolicy, AlertCondition).
    Openslo,
    /// Pyrra pyrra.dev/v1alpha1 ServiceLevelObjective (ratio and latency indicators).
    Pyrra,
}

impl From<ImportFormat> for crate::convert::ImportFormat {
    fn from(f: ImportFormat) -> Self {
        match f {
            ImportFormat::Openslo => crate::convert::ImportFormat::OpenSlo,
            ImportFormat::Pyrra => crate::convert::ImportFormat::Pyrra,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// OpenSLO openslo/v1.
    Openslo,
}
