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
    Validate(ValidateArgs),
    /// Generate rules/<service>.yaml and rules/tests/<service>_test.yaml from the specs.
    Generate(GenerateArgs),
    /// Print the JSON Schema (draft 2020-12) of `sloguard/v1` and `prometheus/v1` spec files.
    Schema,
    /// Convert SLOs of another format into `sloguard/v1` specs (stdout, or --out DIR).
    Import(ImportArgs),
    /// Write the specs as documents of another format (stdout, or --out FILE).
    Export(ExportArgs),
    /// Specs that are legal but doubtful: tiers that can never fire, windows shorter than
    /// four scrape intervals, and (with --data, OpenMetrics as for backtest) budgets a
    /// single request exhausts or tiers the traffic seen can never fire. Exit 1 on findings.
    Lint(LintArgs),
    /// Per SLO and tier: threshold, budget consumed when it fires, detection and reset times.
    Explain(ExplainArgs),
    /// Replay counters through the streaming core: every alert firing and resolution, and
    /// the final error ratio and burn rate of every window. From an OpenMetrics file
    /// (`--specs --data`), or from the configured source over a past range (`--config
    /// --start --end`).
    Backtest(BacktestArgs),
    /// One backfill and evaluation against the configured source at TIME (default now).
    Eval(EvalArgs),
    /// Run the engine: backfill, evaluate every interval, serve /metrics, /api/v1/status,
    /// /healthz and /readyz.
    Serve(ServeArgs),
    /// The failover incidents recorded in the journal, newest first, with their steps.
    Incidents(IncidentsArgs),
    /// Incident playbooks (Markdown): what triggers each domain's failover, the guards,
    /// every runbook step with its API call, the manual command and how to verify it,
    /// failback, who is paged and the GameDay scenarios that rehearse it.
    Playbook(PlaybookArgs),
    /// Post-incident report of a journaled incident: the timeline (first burn, page,
    /// decision, each step and its duration), the burn rates and data state behind the
    /// decision, the budget consumed per SLO and region, and the guards checked.
    Report(ReportArgs),
    /// Print the least-privilege IAM policy for exactly the configured runbook steps.
    IamPolicy(IamPolicyArgs),
    /// Set up the data-plane failover in Route 53: one inverted health check per replica
    /// on its signal endpoint, a calculated quorum check, PRIMARY/SECONDARY records.
    Route53(Route53Args),
    /// The engine's current state from a running `serve` (GET /api/v1/status).
    Status(StatusArgs),
    /// Ask a running engine to fail a domain over (respects the guards unless --force).
    Failover(FailoverArgs),
    /// Approve a failover awaiting approval.
    Approve(ApproveArgs),
    /// Leave an incomplete failover (a runbook that stopped after moving traffic):
    /// finish its remaining steps, roll back what moved, or accept the world as it is.
    Resolve(ResolveArgs),
    /// Re-arm a domain's automation after a failover.
    Rearm(RearmArgs),
    /// Fail a domain back to the region its last failover left (manual; passes the
    /// same guards as a failover, cooldown and quorum included, unless --force).
    Failback(FailbackArgs),
    /// See everything at once: the engine on a simulated two-region world (default: the
    /// primary-outage GameDay) in accelerated real time, with the dashboard and API at
    /// --listen and a live timeline in the terminal. No network or config needed.
    Demo(DemoArgs),
    /// Rehearse an outage: run a GameDay scenario through the real engine, policy and
    /// (dry-run) runbook in simulated time; exit 1 when an expectation fails.
    Gameday(GamedayArgs),
}

// The arguments of `sloguard validate` (its help text is the doc of `Command::Validate`).
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[arg(long, default_value = "slo-specs")]
    pub specs: PathBuf,
    /// Treat warnings (unknown keys in Sloth's format) as errors: exit 1 on any.
    #[arg(long)]
    pub strict: bool,
}

// The arguments of `sloguard generate` (its help text is the doc of `Command::Generate`).
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[arg(long, default_value = "slo-specs")]
    pub specs: PathBuf,
    #[arg(long, default_value = "rules")]
    pub out: PathBuf,
    /// Write nothing; exit 1 naming every file that would change.
    #[arg(long)]
    pub check: bool,
    #[arg(long, value_enum, default_value_t = RuleFormat::Prometheus)]
    pub format: RuleFormat,
    /// ArgoCD sync-wave annotation on PrometheusRule objects.
    #[arg(long, allow_hyphen_values = true)]
    pub sync_wave: Option<i64>,
    /// Namespace of PrometheusRule objects.
    #[arg(long)]
    pub namespace: Option<String>,
}

// The arguments of `sloguard import` (its help text is the doc of `Command::Import`).
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[arg(value_enum)]
    pub format: ImportFormat,
    /// Files to read (all of them together: references resolve across files).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write `<service>.yaml` per service into this directory instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

// The arguments of `sloguard export` (its help text is the doc of `Command::Export`).
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(value_enum)]
    pub format: ExportFormat,
    #[arg(long, default_value = "slo-specs")]
    pub specs: PathBuf,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

// The arguments of `sloguard lint` (its help text is the doc of `Command::Lint`).
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    #[arg(long, default_value = "slo-specs")]
    pub specs: PathBuf,
    /// OpenMetrics counters representative of real traffic (as `backtest --data`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "1m")]
    pub scrape_interval: String,
}

// The arguments of `sloguard explain` (its help text is the doc of `Command::Explain`).
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[arg(long, default_value = "slo-specs")]
    pub specs: PathBuf,
}

// The arguments of `sloguard backtest` (its help text is the doc of `Command::Backtest`).
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    #[arg(long, default_value = "slo-specs")]
    pub specs: PathBuf,
    /// OpenMetrics text (as `promtool tsdb create-blocks-from openmetrics` reads; timestamps in seconds).
    #[arg(long, conflicts_with = "config")]
    pub data: Option<PathBuf>,
    /// Engine configuration: replay from its source instead of a file.
    #[arg(long, requires_all = ["start", "end"])]
    pub config: Option<PathBuf>,
    /// Start of the replayed range (RFC 3339 or unix seconds), with --config.
    #[arg(long)]
    pub start: Option<String>,
    /// End of the replayed range (RFC 3339 or unix seconds), with --config.
    #[arg(long)]
    pub end: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Evaluation interval (file replays).
    #[arg(long, default_value = "30s")]
    pub step: String,
    /// Buckets per window (edge error at most 1/K).
    #[arg(long, default_value_t = 30)]
    pub k: u32,
    /// How late a sample may arrive and still count.
    #[arg(long, default_value = "5m")]
    pub lateness: String,
}

// The arguments of `sloguard eval` (its help text is the doc of `Command::Eval`).
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub config: PathBuf,
    /// RFC 3339 or unix seconds.
    #[arg(long)]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

// The arguments of `sloguard serve` (its help text is the doc of `Command::Serve`).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[arg(long)]
    pub config: PathBuf,
}

// The arguments of `sloguard incidents` (its help text is the doc of `Command::Incidents`).
#[derive(Debug, clap::Args)]
pub struct IncidentsArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

// The arguments of `sloguard playbook` (its help text is the doc of `Command::Playbook`).
#[derive(Debug, clap::Args)]
pub struct PlaybookArgs {
    #[arg(long)]
    pub config: PathBuf,
    /// Only this failover domain (default: every domain).
    #[arg(long)]
    pub domain: Option<String>,
    /// Write `<domain>.md` per domain into this directory instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// GameDay scenarios to list (default: `tests/gameday` or `gameday` beside the config).
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
}

// The arguments of `sloguard report` (its help text is the doc of `Command::Report`).
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The incident number (`sloguard incidents`).
    pub incident: u64,
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// Read this journal instead of the config's `failover.journal` (e.g. one kept by
    /// `gameday --journal`).
    #[arg(long)]
    pub journal: Option<PathBuf>,
}

// The arguments of `sloguard iam-policy` (its help text is the doc of `Command::IamPolicy`).
#[derive(Debug, clap::Args)]
pub struct IamPolicyArgs {
    #[arg(long)]
    pub config: PathBuf,
}

// The arguments of `sloguard route53` (its help text is the doc of `Command::Route53`).
#[derive(Debug, clap::Args)]
pub struct Route53Args {
    #[arg(value_enum)]
    pub action: Route53Action,
    #[arg(long)]
    pub config: PathBuf,
}

// The arguments of `sloguard status` (its help text is the doc of `Command::Status`).
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

// The arguments of `sloguard failover` (its help text is the doc of `Command::Failover`).
#[derive(Debug, clap::Args)]
pub struct FailoverArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long)]
    pub domain: String,
    #[arg(long)]
    pub target: String,
    #[arg(long)]
    pub reason: String,
    /// Skip the guards (needs a reason).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub token: TokenArgs,
}

// The arguments of `sloguard approve` (its help text is the doc of `Command::Approve`).
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    pub incident: u64,
    /// Why (journaled with the call; required).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub token: TokenArgs,
}

// The arguments of `sloguard resolve` (its help text is the doc of `Command::Resolve`).
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    pub incident: u64,
    /// finish, roll-back or accept.
    #[arg(long, value_parser = ["finish", "roll-back", "accept"])]
    pub action: String,
    /// Why (journaled with the call; required).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub token: TokenArgs,
}

// The arguments of `sloguard rearm` (its help text is the doc of `Command::Rearm`).
#[derive(Debug, clap::Args)]
pub struct RearmArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long)]
    pub domain: String,
    /// Why (journaled with the call; required).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub token: TokenArgs,
}

// The arguments of `sloguard failback` (its help text is the doc of `Command::Failback`).
#[derive(Debug, clap::Args)]
pub struct FailbackArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long)]
    pub domain: String,
    #[arg(long)]
    pub target: String,
    #[arg(long)]
    pub reason: String,
    /// Skip the guards (needs a reason).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub token: TokenArgs,
}

// The arguments of `sloguard demo` (its help text is the doc of `Command::Demo`).
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// A GameDay scenario (default: the built-in primary outage).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Exit when the scenario ends (0 when every expectation held, 1 otherwise)
    /// instead of serving until Ctrl-C.
    #[arg(long)]
    pub exit_when_done: bool,
    /// Show the engine's own logs (info level) on stderr, not only warnings.
    #[arg(long)]
    pub verbose: bool,
}

// The arguments of `sloguard gameday` (its help text is the doc of `Command::Gameday`).
#[derive(Debug, clap::Args)]
pub struct GamedayArgs {
    #[arg(long)]
    pub scenario: PathBuf,
    /// Rehearse this engine config file (its regions, evaluation, policy, domains and
    /// runbooks, on dry-run step backends) instead of the scenario defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Keep the drill's journal in this file (for `sloguard report --journal`).
    #[arg(long)]
    pub journal: Option<PathBuf>,
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
