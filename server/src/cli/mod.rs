//! The client commands: `ratchet run` (submit a suite and follow it) and `ratchet demo`
//! (a server and the example suite in one command).

pub mod demo;
pub mod run;
