//! Ratchet's engine: a durable DAG workflow engine with Hatchet's semantics.
//!
//! Everything the engine owns lives in the database behind [`store::Store`], so any server
//! replica can die at any moment and another carries on. Status changes and wake-ups travel
//! over a [`bus::Bus`] (in-process by default, Valkey across replicas).
//!
//! The wire types it shares with the edge agent are the `protocol` crate's.

mod batch;
pub mod bus;
mod children;

pub mod clock;
mod concurrency;
pub mod definition;
mod engine;
mod events;
mod expr;
pub mod leader;
pub mod model;
pub mod observe;
pub mod planner;
mod remote;

pub mod schedules;
pub mod store;
mod waiting;
mod worker;

pub use crate::children::{Child, ChildResult};
pub use crate::engine::{Engine, EngineConfig, EngineError, channels};
pub use crate::events::Pushed;
pub use crate::waiting::{WaitingKind, WaitingReason};
pub use crate::worker::{Context, HandlerResult, TaskError, Worker};
