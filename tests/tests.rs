//! The integration tests, as one test binary so the suite links once (each separate
//! binary links the whole crate with the AWS SDK: ~35 of them filled CI's disk). Two tests
//! stay separate binaries because they install a counting global allocator and measure
//! live bytes, which other tests running in parallel would disturb: `burn_memory` and
//! `fuzz_parsers`.

// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

mod abort_and_stop;
mod actuator;
mod alertmanager_e2e;
mod aws_moto;
mod backtest;
mod batched;
mod bounded;
mod burn_props;
mod calendar;
mod cli_failover;
mod common;
mod connections;
mod coverage;
mod crash_resume;
mod dashboard;
mod deploy;
mod engine_prometheus;
mod failover_e2e;
mod gameday;
mod gap_fill;
mod generate;
mod layering;
mod lint;
mod one_tick;
mod openslo;
mod openslo_sdk;
mod operator_flood;
mod playbook_report;
mod pyrra;
mod query_faults;
mod quorum;
mod records;
mod region_loss;
mod replicas;
mod schema;
mod serve;
mod sloth_compat;
mod slow_source;
mod soak;
mod terminal;
mod tick_keeps_time;
mod validate;
mod warm_restart;
mod webhook;
