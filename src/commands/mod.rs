//! Every subcommand of the binary, one file per command family; this file is the table of
//! contents: [`run`] maps each parsed [`Command`] to the function that does its work.
//!
//! Each command takes its parsed arguments (`sloguard::cli::*Args`) and returns an exit
//! code (0 ok, 1 a check, validation or expectation failed); errors (exit 2) go back to
//! `main`. To add a subcommand: its flags in `src/cli.rs` (a `Command` variant and its
//! `*Args`), its work in the family file here (or a new one), one arm below.

mod aws;
mod common;
mod drills;
mod incidents;
mod operator;
mod playbook;
mod replay;
mod serve;
mod specs;

use std::process::ExitCode;

use sloguard::cli::Command;

/// Runs one subcommand to its exit code.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    // Two workers: the engine's tick and the HTTP face; the machine it runs on is small.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match command {
        // Spec files: check, generate rules, lint, explain, schema, convert.
        Command::Validate(args) => specs::validate(args),
        Command::Generate(args) => specs::generate(args),
        Command::Lint(args) => specs::lint(args),
        Command::Explain(args) => specs::explain(args),
        Command::Schema => specs::schema(),
        Command::Import(args) => specs::import(args),
        Command::Export(args) => specs::export(args),
        // The engine over past or present data.
        Command::Backtest(args) => replay::backtest(&rt, args),
        Command::Eval(args) => replay::eval(&rt, args),
        Command::Serve(args) => serve::serve(&rt, args),
        // Drills on the simulated world.
        Command::Demo(args) => drills::demo(&rt, args),
        Command::Gameday(args) => drills::gameday(&rt, args),
        // The journal and what is written from it.
        Command::Incidents(args) => incidents::incidents(args),
        Command::Report(args) => incidents::report(args),
        Command::Playbook(args) => playbook::playbook(args),
        // AWS set-up from the config.
        Command::IamPolicy(args) => aws::iam_policy(args),
        Command::Route53(args) => aws::route53(&rt, args),
        // Operator calls to a running engine.
        Command::Status(args) => operator::status(&rt, args),
        Command::Failover(args) => operator::failover(&rt, args),
        Command::Approve(args) => operator::approve(&rt, args),
        Command::Resolve(args) => operator::resolve(&rt, args),
        Command::Rearm(args) => operator::rearm(&rt, args),
        Command::Failback(args) => operator::failback(&rt, args),
    }
}
