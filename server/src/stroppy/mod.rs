//! The product's domain: benchmark suites. A suite (spec/) expands into tests; the three
//! workflows (workflows/) provision machines, start PostgreSQL, run the load, measure and
//! always tear down, step by step (steps.rs names them); results.rs compares the tests;
//! view.rs is the suite as people follow it; releases.rs the Stroppy releases trusted.

pub mod releases;
pub mod report;
pub mod results;
pub mod spec;
pub mod stats;
pub mod steps;
pub mod view;
pub mod workflows;
