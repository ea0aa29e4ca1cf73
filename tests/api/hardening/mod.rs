//! The process and HTTP server under what production does to them: missing settings, a
//! database outage, hostile clients, a redirecting bank, and test clusters left behind.

mod bank_redirects;
mod database_outage;
mod http_limits;
mod pools;
mod private_cluster;
mod refusals;
