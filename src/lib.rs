//! Aisle: single-access account-information imports. `main.rs` is a thin CLI over this crate.

pub mod cli;
pub mod client_addr;
pub mod commands;
pub mod compat;
pub mod config;
pub mod console;
pub mod deletion_signing;
pub mod demo;
pub mod dev;
pub mod devdb;
pub mod engine;
pub mod expiry;
pub mod http;
pub mod model;
pub mod registry;
pub mod sealing;
pub mod service;
pub mod shutdown;
pub mod signin;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod webhooks;
