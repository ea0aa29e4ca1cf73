//! The command line: one binary that runs the dev stack, the API, the workers, or both.
//!
//! Only `dev` (the default) starts a private database and invents keys. Every other command
//! needs `database_url`; `serve`, `api` and `worker` need both keys too, and refuse to start
//! naming whatever is missing. Against the dev stack's cluster, run `migrate` and `client` with
//! the database URL `aisle dev` prints.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ipnet::IpNet;

use crate::{config::Config, dev, service::Service, shutdown, signin::origins, store};

pub type CliResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Parser)]
#[command(
    name = "aisle",
    version,
    about = "Single-access account-information imports"
)]
pub struct Cli {
    /// A TOML configuration file (defaults, then this file, then AISLE_* variables).
    #[arg(long, global = true, env = "AISLE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole dev stack: private Postgres, sandbox bank, API and workers (the default).
    Dev,
    /// The API and the workers in one process.
    Serve,
    /// The API only.
    Api,
    /// The import workers only.
    Worker,
    /// Applies the database migrations and exits.
    Migrate,
    /// Manages clients.
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Creates a client and prints its API key (shown once; only its hash is stored).
    Create {
        #[arg(long)]
        name: String,
        /// An address range allowed to call (repeatable); none means any address.
        #[arg(long = "allow-ip", value_name = "CIDR")]
        allow_ip: Vec<IpNet>,
        #[command(flatten)]
        places: SignInPlaces,
        /// Print `{"clientId","apiKey"}` for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Replaces where a client's owners may sign in from and return to.
    Register {
        /// The client's id.
        #[arg(long)]
        client: uuid::Uuid,
        #[command(flatten)]
        places: SignInPlaces,
    },
}

#[derive(Debug, clap::Args)]
struct SignInPlaces {
    /// An origin whose pages may embed the widget, e.g. https://shop.example (repeatable).
    #[arg(long = "widget-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    widget_origins: Vec<String>,
    /// A URI a redirection may return the owner to, exactly (repeatable).
    #[arg(long = "redirect-uri", value_name = "URI", value_parser = parse_redirect_uri)]
    redirect_uris: Vec<String>,
}

fn parse_origin(raw: &str) -> Result<String, String> {
    origins::widget_origin(raw).map_err(|e| e.to_string())
}

fn parse_redirect_uri(raw: &str) -> Result<String, String> {
    origins::redirect_uri(raw).map_err(|e| e.to_string())
}

impl Cli {
    pub async fn run(self) -> CliResult {
        let config = Config::load(self.config.as_deref())?;
        crate::telemetry::init_with(config.log_format);
        match self.command.unwrap_or(Command::Dev) {
            Command::Dev => Ok(dev::run(config).await?),
            Command::Serve => {
                let service = Service::start(config).await?;
                service.serve_metrics().await?;
                let listener = tokio::net::TcpListener::bind(service.config.listen).await?;
                tracing::info!(listen = %service.config.listen, "serving the API and the workers");
                let token = shutdown::on_signal();
                let (api, workers) = tokio::join!(
                    service.run_api(listener, token.clone().cancelled_owned()),
                    service.run_workers(token.cancelled_owned()),
                );
                api?;
                Ok(workers?)
            }
            Command::Api => {
                let service = Service::start(config).await?;
                service.serve_metrics().await?;
                let listener = tokio::net::TcpListener::bind(service.config.listen).await?;
                tracing::info!(listen = %service.config.listen, "serving the API");
                let stop = shutdown::on_signal().cancelled_owned();
                Ok(service.run_api(listener, stop).await?)
            }
            Command::Worker => {
                let service = Service::start(config).await?;
                service.serve_metrics().await?;
                let stop = shutdown::on_signal().cancelled_owned();
                Ok(service.run_workers(stop).await?)
            }
            Command::Migrate => {
                migrated_pool(config).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::Client(ClientCommand::Create {
                name,
                allow_ip,
                places,
                json,
            }) => {
                let pool = migrated_pool(config).await?;
                let (client, api_key) = store::clients::create(&pool, &name, &allow_ip).await?;
                store::clients::register_signin_places(
                    &pool,
                    client.id,
                    &places.widget_origins,
                    &places.redirect_uris,
                )
                .await?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "clientId": client.id, "apiKey": api_key })
                    );
                } else {
                    println!(
                        "client {} ({})\nAPI key (shown once): {api_key}",
                        client.name, client.id
                    );
                }
                Ok(())
            }
            Command::Client(ClientCommand::Register { client, places }) => {
                let pool = migrated_pool(config).await?;
                let found = store::clients::register_signin_places(
                    &pool,
                    client,
                    &places.widget_origins,
                    &places.redirect_uris,
                )
                .await?;
                if !found {
                    return Err(format!("no client has the id {client}").into());
                }
                println!(
                    "client {client}: widget origins {:?}, redirect URIs {:?}",
                    places.widget_origins, places.redirect_uris
                );
                Ok(())
            }
        }
    }
}

/// A pool on the configured database, migrated.
async fn migrated_pool(config: Config) -> CliResult<sqlx::PgPool> {
    let pool = sqlx::PgPool::connect(config.require_database()?.expose()).await?;
    store::migrate(&pool).await?;
    Ok(pool)
}
