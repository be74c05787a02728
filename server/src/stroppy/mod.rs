//! The product's domain: benchmark suites. A suite (spec.rs) expands into tests; the three
//! workflows (workflows.rs) provision machines, start PostgreSQL, run the load, measure
//! and always tear down; results.rs compares the tests.

pub mod releases;
pub mod results;
pub mod spec;
pub mod workflows;
