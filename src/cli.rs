//! The command line: one binary that runs the dev stack, the API, the workers, or both.

use std::{
    future::Future,
    path::{Path, PathBuf},
};

use clap::{Parser, Subcommand};
use ipnet::IpNet;
use tokio_util::sync::CancellationToken;

use crate::{
    config::{Config, Secret},
    dev,
    devdb::{Durability, PrivateCluster},
    sealing::SecretSealer,
    service::Service,
    signin::origins,
    store,
    webhooks::{self, EventType, endpoints::WebhookUrl},
};

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
    /// Manages a client's webhook endpoints.
    #[command(subcommand)]
    Webhook(WebhookCommand),
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

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Registers an endpoint and prints its signing secret (shown once; stored sealed).
    Create {
        /// The client's id.
        #[arg(long)]
        client: uuid::Uuid,
        /// Where events are posted (https).
        #[arg(long)]
        url: String,
        /// An event to send, e.g. import.succeeded (repeatable); every event when none.
        #[arg(long = "event", value_name = "TYPE", value_parser = parse_event_type)]
        events: Vec<EventType>,
        /// Print `{"webhookId","secret"}` for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Lists a client's endpoints, with why any was disabled.
    List {
        #[arg(long)]
        client: uuid::Uuid,
    },
    /// Deletes an endpoint and its delivery log.
    Delete {
        #[arg(long)]
        client: uuid::Uuid,
        /// The endpoint's id.
        #[arg(long)]
        webhook: uuid::Uuid,
    },
}

fn parse_event_type(raw: &str) -> Result<EventType, String> {
    EventType::ALL
        .into_iter()
        .find(|event| event.as_str() == raw)
        .ok_or_else(|| {
            let known = EventType::ALL.map(EventType::as_str).join(", ");
            format!("one of {known}")
        })
}

impl WebhookCommand {
    async fn run(self, config: Config) -> CliResult {
        let config = with_database(config).await?;
        let sealer = SecretSealer::from_hex(
            config
                .secrets_key
                .as_ref()
                .map(Secret::expose)
                .unwrap_or_default(),
        )?;
        let allow_private = config.webhooks.allow_private;
        let pool = migrated_pool(config).await?;
        match self {
            Self::Create {
                client,
                url,
                events,
                json,
            } => {
                let url = WebhookUrl::parse(&url, allow_private)?;
                let events = if events.is_empty() {
                    EventType::ALL.to_vec()
                } else {
                    events
                };
                let registered =
                    webhooks::endpoints::register(&pool, &sealer, client, &url, &events).await?;
                let (id, secret) = (registered.endpoint.id, registered.secret.expose());
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "webhookId": id, "secret": secret })
                    );
                } else {
                    println!(
                        "webhook {id} -> {}\nsecret (shown once): {secret}",
                        url.as_str()
                    );
                }
            }
            Self::List { client } => {
                for endpoint in store::webhooks::endpoints_for_client(&pool, client).await? {
                    let events = endpoint
                        .events
                        .iter()
                        .map(|e| e.as_str())
                        .collect::<Vec<_>>();
                    let status = match (endpoint.disabled_reason, &endpoint.disabled_detail) {
                        (Some(reason), detail) => format!(
                            "disabled ({reason:?}): {}",
                            detail.as_deref().unwrap_or_default()
                        ),
                        (None, _) => "enabled".to_string(),
                    };
                    println!(
                        "{} {} [{}] {status}",
                        endpoint.id,
                        endpoint.url,
                        events.join(",")
                    );
                }
            }
            Self::Delete { client, webhook } => {
                if !store::webhooks::delete_endpoint(&pool, client, webhook).await? {
                    return Err(format!("client {client} has no webhook {webhook}").into());
                }
                println!("webhook {webhook} deleted");
            }
        }
        Ok(())
    }
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
        match self.command.unwrap_or(Command::Dev) {
            Command::Dev => dev::run(config).await,
            Command::Serve => {
                let service = Service::start(with_database(config).await?).await?;
                let listener = tokio::net::TcpListener::bind(service.config.listen).await?;
                tracing::info!(listen = %service.config.listen, "serving the API and the workers");
                let token = shutdown_on_ctrl_c();
                let (api, workers) = tokio::join!(
                    service.run_api(listener, token.clone().cancelled_owned()),
                    service.run_workers(token.cancelled_owned()),
                );
                api?;
                Ok(workers?)
            }
            Command::Api => {
                let service = Service::start(with_database(config).await?).await?;
                let listener = tokio::net::TcpListener::bind(service.config.listen).await?;
                tracing::info!(listen = %service.config.listen, "serving the API");
                Ok(service.run_api(listener, ctrl_c()).await?)
            }
            Command::Worker => {
                let service = Service::start(with_database(config).await?).await?;
                Ok(service.run_workers(ctrl_c()).await?)
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
            Command::Webhook(command) => command.run(config).await,
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

/// The configuration with a database: the configured one, else the private dev cluster.
pub async fn with_database(mut config: Config) -> Result<Config, crate::devdb::DevDbError> {
    if config.database_url.is_none() {
        let cluster = private_cluster(&config.state_dir)?;
        tracing::info!(
            port = cluster.port(),
            "no database configured: using the private dev cluster"
        );
        config.database_url = Some(Secret(cluster.ensure_database("aisle").await?));
    }
    if config.session_signing_key.is_none() {
        config.session_signing_key = Some(dev::generated_key(
            &config.state_dir,
            "session-signing-key",
        )?);
    }
    if config.secrets_key.is_none() {
        config.secrets_key = Some(dev::generated_key(&config.state_dir, "secrets-key")?);
    }
    Ok(config)
}

/// A pool on the configured (or private) database, migrated.
async fn migrated_pool(config: Config) -> CliResult<sqlx::PgPool> {
    let config = with_database(config).await?;
    let url = config
        .database_url
        .as_ref()
        .map(Secret::expose)
        .unwrap_or_default();
    let pool = sqlx::PgPool::connect(url).await?;
    store::migrate(&pool).await?;
    Ok(pool)
}

pub fn private_cluster(state_dir: &Path) -> Result<PrivateCluster, crate::devdb::DevDbError> {
    PrivateCluster::start(&state_dir.join("postgres"), Durability::Safe)
}

fn ctrl_c() -> impl Future<Output = ()> + Send + 'static {
    shutdown_on_ctrl_c().cancelled_owned()
}

/// A token cancelled on Ctrl-C (or SIGTERM).
pub fn shutdown_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}
