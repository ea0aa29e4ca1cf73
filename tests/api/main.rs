//! Integration tests: the real app on a random port, a real PostgreSQL database per test, the
//! sandbox bank over real HTTP. One binary, so it links once.

mod auto_import;
mod bad_input;
mod browser;
mod browser_binding;
mod compat;
mod compat_client;
mod compat_widget;
mod connectors;
mod console;
mod console_browser;
mod contract;
mod contract_walk;
mod crash_recovery;
mod cross_client;
mod default_import;
mod exports;
mod hardening;
mod helpers;
mod history;
mod hostile_banks;
mod idempotency;
mod isolation;
mod lifecycle;
mod metrics;
mod owners;
mod polls;
mod results;
mod retention;
mod security;
mod service_endpoints;
mod signin;
mod store_while_fetching;
mod webhooks;
mod widget;
