//! Runs the sandbox bank on its own, for demos and manual testing.

use std::time::Duration;

use aisle_sandbox_bank::{SandboxOptions, serve};
use clap::Parser;

/// A simulated Berlin Group NextGenPSD2 bank with deterministic personas.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port to listen on (all interfaces).
    #[arg(long, default_value_t = 8090)]
    port: u16,
    /// Milliseconds added to every response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", args.port)).await?;
    let address = listener.local_addr()?;
    tracing::info!(
        url = %format!("http://localhost:{}", address.port()),
        personas = ?aisle_sandbox_bank::PERSONAS,
        "sandbox bank listening"
    );
    let options = SandboxOptions {
        latency: Duration::from_millis(args.latency_ms),
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
