//! clap definitions of every `sloguard` subcommand and its flags (the CLI contract).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "sloguard",
    version,
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every spec; exit 1 listing every problem as `file: slo: message`.
    Validate {
        #[arg(long, default_value = "slo-specs")]
        specs: PathBuf,
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
    /// Per SLO and tier: threshold, budget consumed when it fires, detection and reset times.
    Explain {
        #[arg(long, default_value = "slo-specs")]
        specs: PathBuf,
    },
}
