//! Integration tests: the real app on a random port, a real PostgreSQL database per test, the
//! sandbox bank over real HTTP. One binary, so it links once.

mod bad_input;
mod browser;
mod connectors;
mod crash_recovery;
mod default_import;
mod helpers;
mod history;
mod idempotency;
mod isolation;
mod lifecycle;
mod service_endpoints;
mod signin;
mod webhooks;
mod widget;
