#![recursion_limit = "512"]
//! The `server` binary's library: configuration, wiring (`Application::build`), the HTTP surface
//! (pages, server functions, JSON API, health and metrics) and the maintenance commands.

pub mod config;
pub mod http;
pub mod lambda;
pub mod seed;
pub mod startup;
pub mod telemetry;
pub mod views;

pub use startup::{AppState, Application};
