//! The sandbox bank's command line, shared by its own binary and `aisle sandbox-bank`, so a
//! test harness can run the bank as an OS process of its own.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::{FaultRate, SandboxOptions, serve};

/// How to run the sandbox bank.
#[derive(Debug, Clone, clap::Args)]
pub struct BankArgs {
    /// Port to listen on; 0 takes any free port.
    #[arg(long, default_value_t = 8090)]
    pub port: u16,
    /// Address to listen on; 0.0.0.0 for every interface.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Milliseconds added to every response.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// The share (0.0 to 1.0) of AIS data calls and consent terminations that fail.
    #[arg(long, default_value_t = FaultRate::NONE)]
    pub fault_rate: FaultRate,
    /// How long a faulted call that times out holds its answer, in milliseconds.
    #[arg(long, default_value_t = 35_000)]
    pub timeout_hold_ms: u64,
}

impl BankArgs {
    /// Binds, prints `sandbox bank listening on http://HOST:PORT` on stdout (a harness reads
    /// the port from it), and serves until Ctrl-C.
    pub async fn run(self) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind((self.host, self.port)).await?;
        let bound = listener.local_addr()?;
        // An unspecified address is reached through the loopback one.
        let shown = if bound.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        } else {
            bound
        };
        println!("sandbox bank listening on http://{shown}");
        tracing::info!(
            fault_rate = self.fault_rate.get(),
            latency_ms = self.latency_ms,
            "sandbox bank started"
        );
        let options = SandboxOptions {
            latency: Duration::from_millis(self.latency_ms),
            fault_rate: self.fault_rate,
            timeout_hold: Duration::from_millis(self.timeout_hold_ms),
            ..SandboxOptions::default()
        };
        serve(listener, options, async {
            // If the signal handler cannot be installed, run until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
    }
}
