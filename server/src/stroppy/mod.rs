//! The product's domain: benchmark suites. A suite (spec/) expands into tests; the three
//! workflows (workflows/) provision machines, start PostgreSQL, run the load, measure and
//! always tear down, step by step (steps.rs names them); results.rs compares the tests;
//! stats.rs says whether a delta is real and report.rs writes it up; view.rs is the suite
//! as people follow it; baselines.rs keeps suites under names for later suites to compare
//! with; releases.rs the Stroppy releases trusted.

pub mod baselines;
pub mod releases;
pub mod report;
pub mod results;
pub mod spec;
pub mod stats;
pub mod steps;
pub mod view;
pub mod workflows;
