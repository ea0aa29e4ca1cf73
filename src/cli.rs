//! The command line: one binary that runs the dev stack, the API, the workers, or both.
//!
//! Only `dev` (the default) starts a private database and invents keys. Every other command
//! needs `database_url`; `serve`, `api` and `worker` need both keys too, and refuse to start
//! naming whatever is missing. Against the dev stack's cluster, run `migrate` and `client` with
//! the database URL `aisle dev` prints.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ipnet::IpNet;

use crate::{
    config::Config,
    console, dev,
    model::{
        input::AutoImportMonths,
        settings::{RetentionSeconds, SettingsChange},
        staff::Role,
    },
    sealing::SecretSealer,
    service::Service,
    shutdown,
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
    /// The sandbox bank alone, as its own process (the chaos harness runs it so).
    SandboxBank(aisle_sandbox_bank::cli::BankArgs),
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
        /// The login of the client's first console admin (an email address); default
        /// `admin-` and the start of the client's id. A one-time setup link is printed for it.
        #[arg(long = "admin-login", value_name = "LOGIN")]
        admin_login: Option<String>,
        /// Print `{"clientId","apiKey","adminLogin","setupLink"}` for scripts.
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
    /// Manages a client's API keys: rotate by creating a new one, moving the callers to it,
    /// then revoking the old one.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Turns a client's auto import on (Aisle starts the Default Import itself when an owner
    /// signs in) with N months of history, or off. Sign-ins opened from then on follow it.
    #[command(group(clap::ArgGroup::new("setting").required(true).args(["months", "off"])))]
    SetAutoImport {
        #[arg(long)]
        client: uuid::Uuid,
        /// Months of history, 1 to 120.
        #[arg(long, value_parser = parse_auto_import_months)]
        months: Option<AutoImportMonths>,
        /// Turns auto import off.
        #[arg(long)]
        off: bool,
    },
    /// Sets how long the client's imported data is kept after each import ends (the client
    /// can also change it with `PATCH /v1/settings`).
    SetRetention {
        #[arg(long)]
        client: uuid::Uuid,
        /// Whole seconds, from 60 (a minute) to 31622400 (366 days); the default is 86400.
        #[arg(long, value_parser = parse_retention)]
        seconds: RetentionSeconds,
    },
}

fn parse_retention(raw: &str) -> Result<RetentionSeconds, String> {
    let seconds: i64 = raw.parse().map_err(|_| "whole seconds".to_string())?;
    RetentionSeconds::new(seconds)
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Issues the client another API key (shown once; only its hash is stored). Its other keys
    /// keep working.
    Create {
        #[arg(long)]
        client: uuid::Uuid,
        /// Print `{"clientId","keyId","apiKey"}` for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Revokes one of the client's keys; it stops working at once.
    Revoke {
        #[arg(long)]
        client: uuid::Uuid,
        /// The key's id, as `create` and `list` print it.
        #[arg(long)]
        key: uuid::Uuid,
    },
    /// Lists the client's keys (ids and dates, never the keys).
    List {
        #[arg(long)]
        client: uuid::Uuid,
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
        let key = config.secrets_key.as_ref().ok_or(
            "missing setting: AISLE_SECRETS_KEY (secrets_key), which seals webhook secrets",
        )?;
        let sealer = SecretSealer::from_hex(key.expose())?;
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

fn parse_auto_import_months(raw: &str) -> Result<AutoImportMonths, String> {
    let months = raw.parse::<i64>().map_err(|e| e.to_string())?;
    AutoImportMonths::new(months).map_err(|e| e.to_string())
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
                admin_login,
                json,
            }) => {
                let public_url = config.public_url.clone();
                let secrets_key = config.secrets_key.clone();
                let pool = migrated_pool(config).await?;
                let key = secrets_key.as_ref().ok_or(
                    "missing setting: AISLE_SECRETS_KEY (secrets_key), which seals the console \
                     admin's TOTP secret",
                )?;
                let sealer = SecretSealer::from_hex(key.expose())?;
                let (client, api_key) = store::clients::create(&pool, &name, &allow_ip).await?;
                store::clients::register_signin_places(
                    &pool,
                    client.id,
                    &places.widget_origins,
                    &places.redirect_uris,
                )
                .await?;
                let admin_login = admin_login
                    .unwrap_or_else(|| format!("admin-{}", &client.id.simple().to_string()[..8]));
                let admin = console::auth::invite(
                    &pool,
                    &sealer,
                    &public_url,
                    client.id,
                    &admin_login,
                    Role::Admin,
                )
                .await?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "clientId": client.id,
                            "apiKey": api_key,
                            "adminLogin": admin.login,
                            "setupLink": admin.setup_link,
                        })
                    );
                } else {
                    println!(
                        "client {} ({})\nAPI key (shown once): {api_key}\n\
                         console admin: {}\n\
                         setup link (works once, for 72 hours): {}",
                        client.name, client.id, admin.login, admin.setup_link
                    );
                }
                Ok(())
            }
            Command::Client(ClientCommand::Key(command)) => {
                let pool = migrated_pool(config).await?;
                manage_keys(&pool, command).await
            }
            Command::Client(ClientCommand::SetAutoImport { client, months, .. }) => {
                let pool = migrated_pool(config).await?;
                if !store::clients::set_auto_import(&pool, client, months).await? {
                    return Err(format!("no client has the id {client}").into());
                }
                match months {
                    Some(months) => println!(
                        "client {client}: auto import on, {} months of history",
                        months.get()
                    ),
                    None => println!("client {client}: auto import off"),
                }
                Ok(())
            }
            Command::Client(ClientCommand::SetRetention { client, seconds }) => {
                let pool = migrated_pool(config).await?;
                let change = SettingsChange {
                    retention_seconds: Some(seconds),
                    ..SettingsChange::default()
                };
                store::client_settings::update(&pool, client, &change)
                    .await?
                    .ok_or_else(|| format!("no client has the id {client}"))?;
                println!(
                    "client {client}: imported data is kept {} s after each import ends",
                    seconds.get()
                );
                Ok(())
            }
            Command::SandboxBank(bank) => Ok(bank.run().await?),
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

async fn manage_keys(pool: &sqlx::PgPool, command: KeyCommand) -> CliResult {
    match command {
        KeyCommand::Create { client, json } => {
            let (key_id, api_key) = store::clients::issue_api_key(pool, client)
                .await?
                .ok_or_else(|| format!("no client has the id {client}"))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "clientId": client, "keyId": key_id, "apiKey": api_key })
                );
            } else {
                println!("client {client}: key {key_id}\nAPI key (shown once): {api_key}");
            }
        }
        KeyCommand::Revoke { client, key } => {
            if !store::clients::revoke_api_key(pool, client, key).await? {
                return Err(format!("client {client} has no unrevoked key {key}").into());
            }
            println!("client {client}: key {key} revoked");
        }
        KeyCommand::List { client } => {
            for key in store::clients::api_keys(pool, client).await? {
                match key.revoked_at {
                    Some(revoked) => {
                        println!("{}  created {}  revoked {revoked}", key.id, key.created_at)
                    }
                    None => println!("{}  created {}  active", key.id, key.created_at),
                }
            }
        }
    }
    Ok(())
}

/// A pool on the configured database, migrated.
async fn migrated_pool(config: Config) -> CliResult<sqlx::PgPool> {
    let pool = sqlx::PgPool::connect(config.require_database()?.expose()).await?;
    store::migrate(&pool).await?;
    Ok(pool)
}
