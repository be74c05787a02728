//! Ratchet's engine: a durable DAG workflow engine with Hatchet's semantics.
//!
//! Everything the engine owns lives in the database behind [`store::Store`], so any server
//! replica can die at any moment and another carries on. Status changes and wake-ups travel
//! over a [`bus::Bus`] (in-process by default, Valkey across replicas).
//!
//! With default features off only [`protocol`] is compiled: the wire types the edge agent
//! shares with the server, without sqlx or the bus.

pub mod protocol;

#[cfg(feature = "store")]
mod batch;
#[cfg(feature = "store")]
pub mod bus;
#[cfg(feature = "store")]
mod children;

#[cfg(feature = "store")]
pub mod clock;
mod concurrency;
#[cfg(feature = "store")]
pub mod definition;
#[cfg(feature = "store")]
mod engine;
#[cfg(feature = "store")]
mod events;
#[cfg(feature = "store")]
mod expr;
#[cfg(feature = "store")]
pub mod model;
#[cfg(feature = "store")]
pub mod planner;
#[cfg(feature = "store")]
mod remote;

#[cfg(feature = "store")]
pub mod schedules;
#[cfg(feature = "store")]
pub mod store;
mod waiting;
#[cfg(feature = "store")]
mod worker;

#[cfg(feature = "store")]
pub use crate::children::{Child, ChildResult};
#[cfg(feature = "store")]
pub use crate::engine::{Engine, EngineConfig, EngineError, channels};
#[cfg(feature = "store")]
pub use crate::events::Pushed;
pub use crate::waiting::{WaitingKind, WaitingReason};
#[cfg(feature = "store")]
pub use crate::worker::{Context, HandlerResult, TaskError, Worker};
