//! The commands beside `serve`: `ratchet run` (submit a suite and follow it), `ratchet
//! demo` (a server and the example suite in one command), `ratchet token` (API tokens).

pub mod demo;
pub mod run;
pub mod token;
