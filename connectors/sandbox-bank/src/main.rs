//! Runs the sandbox bank on its own, for demos, manual testing and test harnesses.

use aisle_sandbox_bank::cli::BankArgs;
use clap::Parser;

/// A simulated Berlin Group NextGenPSD2 bank with deterministic personas.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    bank: BankArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    Args::parse().bank.run().await
}
