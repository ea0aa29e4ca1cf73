//! The dev stack behind a bare `cargo run`: a private Postgres, the sandbox bank, the API and
//! the workers in one process, plus a demo client whose key it prints with a curl walkthrough.

use std::{
    fs,
    io::Write,
    net::SocketAddr,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::{
    config::{Config, Secret},
    demo::inbox::Inbox,
    devdb::{DevDbError, Durability, PrivateCluster},
    service::{Service, StartError},
    shutdown,
    signin::origins::{self, OriginError},
    store::{self, clients},
    webhooks::{
        EventType,
        endpoints::{self, EndpointError, WebhookUrl},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    Cluster(#[from] DevDbError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot listen on {addr} for the {what}: {source}")]
    Listen {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the demo client: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the demo client's origin: {0}")]
    Origin(#[from] OriginError),
    #[error("the demo client file: {0}")]
    DemoFile(#[from] serde_json::Error),
    #[error("the demo client's webhook: {0}")]
    Webhook(#[from] EndpointError),
    #[error("the demo client's console admin: {0}")]
    ConsoleAdmin(#[from] crate::console::auth::InviteError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Runs the dev stack until Ctrl-C.
pub async fn run(mut config: Config) -> Result<(), DevError> {
    // The demo client receives its webhooks on loopback.
    config.webhooks.allow_private = true;
    let sandbox_listener = listen("sandbox bank", config.sandbox_bank.listen).await?;
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr()?);
    config.sandbox_bank.url = Some(sandbox_url.clone());
    // Held until the end: the cluster stops once no process holds it (see devdb).
    let cluster = match config.database_url {
        Some(_) => None,
        None => Some(start_cluster(&mut config).await?),
    };
    generate_missing_keys(&mut config)?;
    let api_listener = listen("API", config.listen).await?;
    let demo_listener = listen("demo", config.demo_listen).await?;
    let demo_url = format!("http://{}", demo_listener.local_addr()?);

    let service = Service::start(config).await?;
    let demo = demo_client(&service, &demo_url).await?;
    let token = shutdown::on_signal();
    let inbox = demo_webhook(&service, demo.client_id, &demo_url).await?;
    let demo_site = tokio::spawn(crate::demo::serve_with_inbox(
        demo_listener,
        crate::demo::Demo {
            aisle_url: service.config.public_url.clone(),
            client_id: demo.client_id,
            api_key: demo.api_key.clone(),
            http: reqwest::Client::new(),
        },
        inbox,
        token.clone().cancelled_owned(),
    ));

    let sandbox = tokio::spawn(aisle_sandbox_bank::serve(
        sandbox_listener,
        aisle_sandbox_bank::SandboxOptions::default(),
        token.clone().cancelled_owned(),
    ));
    print_walkthrough(&Walkthrough {
        api: &service.config.public_url,
        sandbox: &sandbox_url,
        demo: &demo_url,
        api_key: &demo.api_key,
        admin: demo.console.as_ref(),
        database_url: cluster.as_ref().map(|c| c.url(DATABASE)),
    });
    let (api, workers) = tokio::join!(
        service.run_api(api_listener, token.clone().cancelled_owned()),
        service.run_workers(token.cancelled_owned()),
    );
    let _ = sandbox.await;
    let _ = demo_site.await;
    service.pool.close().await;
    service.queue_pool.close().await;
    service.import_pool.close().await;
    drop(cluster);
    api?;
    Ok(workers?)
}

/// The dev stack's database on its private cluster.
const DATABASE: &str = "aisle";

async fn listen(what: &'static str, addr: SocketAddr) -> Result<TcpListener, DevError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| DevError::Listen { what, addr, source })
}

/// Starts (or joins) the private cluster under `state_dir` and points `config` at it.
async fn start_cluster(config: &mut Config) -> Result<PrivateCluster, DevDbError> {
    let cluster = PrivateCluster::start(&config.state_dir.join("postgres"), Durability::Safe)?;
    tracing::info!(
        port = cluster.port(),
        "no database configured: using the private dev cluster"
    );
    config.database_url = Some(Secret(cluster.ensure_database(DATABASE).await?));
    Ok(cluster)
}

/// Fills in the keys the developer did not configure, from `state_dir`. Only the dev stack does
/// this: every other command refuses to start without configured keys.
fn generate_missing_keys(config: &mut Config) -> Result<(), DevDbError> {
    if config.session_signing_key.is_none() {
        config.session_signing_key = Some(generated_key(&config.state_dir, "session-signing-key")?);
    }
    if config.secrets_key.is_none() {
        config.secrets_key = Some(generated_key(&config.state_dir, "secrets-key")?);
    }
    if config.deletion_receipt_key.is_none() {
        config.deletion_receipt_key =
            Some(generated_key(&config.state_dir, "deletion-receipt-key")?);
    }
    Ok(())
}

/// A dev stack key (`session-signing-key`, `secrets-key`, `deletion-receipt-key`, an Ed25519
/// seed): 32 random bytes as hex, generated
/// once into the state directory and read back on later starts.
fn generated_key(state_dir: &Path, name: &str) -> Result<Secret, DevDbError> {
    let path = state_dir.join(name);
    let io = |e| DevDbError::Io(path.clone(), e);
    if let Ok(key) = fs::read_to_string(&path) {
        return Ok(Secret(key.trim().to_string()));
    }
    fs::create_dir_all(state_dir).map_err(io)?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = hex::encode(bytes);
    // Readable by this user only: it opens every bank secret the dev stack stores.
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| file.write_all(key.as_bytes()))
        .map_err(io)?;
    Ok(Secret(key))
}

/// Writes `contents` to `path`, created readable by this user only, whatever the umask. The
/// mode applies only to a file this call creates: callers narrow one that already exists.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoClient {
    client_id: uuid::Uuid,
    api_key: String,
    /// The demo client's console admin; absent in files from before the console.
    #[serde(default)]
    console: Option<DemoAdmin>,
}

/// A ready console login for the demo client: kept with its key, for the same reason.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoAdmin {
    login: String,
    password: String,
    /// Base32, as authenticator apps take it.
    totp_secret: String,
}

const DEMO_ADMIN: &str = "demo-admin";

/// The demo client, kept in the state directory so its key survives restarts. It is a local
/// developer's convenience: a real client's key is shown once and never stored. Its widget
/// origin is the demo site's, registered anew at every start.
async fn demo_client(service: &Service, demo_url: &str) -> Result<DemoClient, DevError> {
    let path = service.config.state_dir.join("demo-client.json");
    // It holds an API key; an older dev stack wrote it with the default permissions.
    if path.exists() {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    }
    let kept = match fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<DemoClient>(&text).ok())
    {
        Some(demo)
            if clients::find(&service.pool, demo.client_id)
                .await?
                .is_some() =>
        {
            Some(demo)
        }
        _ => None,
    };
    let demo = match kept {
        Some(demo) => demo,
        None => {
            let (client, api_key) =
                clients::create(&service.pool, "Acme Lending (demo)", &[]).await?;
            DemoClient {
                client_id: client.id,
                api_key,
                console: None,
            }
        }
    };
    let admin_kept = match &demo.console {
        Some(admin) => crate::store::staff::find_by_login(&service.pool, &admin.login)
            .await?
            .is_some_and(|user| user.client_id == demo.client_id),
        None => false,
    };
    let demo = if admin_kept {
        demo
    } else {
        let mut password = [0u8; 12];
        rand::rng().fill_bytes(&mut password);
        let password = hex::encode(password);
        let totp_secret = crate::console::auth::create_enrolled(
            &service.pool,
            service.sealer(),
            demo.client_id,
            DEMO_ADMIN,
            crate::model::staff::Role::Admin,
            &password,
        )
        .await?;
        DemoClient {
            console: Some(DemoAdmin {
                login: DEMO_ADMIN.into(),
                password,
                totp_secret,
            }),
            ..demo
        }
    };
    write_private(&path, serde_json::to_string_pretty(&demo)?.as_bytes())?;
    clients::register_signin_places(
        &service.pool,
        demo.client_id,
        &[origins::widget_origin(demo_url)?],
        &[],
    )
    .await?;
    Ok(demo)
}

/// Subscribes the demo site to every event, on its own origin, with a fresh secret its inbox
/// verifies with; the endpoint an earlier start registered there is replaced.
async fn demo_webhook(
    service: &Service,
    client_id: uuid::Uuid,
    demo_url: &str,
) -> Result<std::sync::Arc<Inbox>, DevError> {
    let url = WebhookUrl::parse(&format!("{demo_url}/demo/webhooks"), true)?;
    for old in store::webhooks::endpoints_for_client(&service.pool, client_id).await? {
        if old.url == url.as_str() {
            store::webhooks::delete_endpoint(&service.pool, client_id, old.id).await?;
        }
    }
    let registered = endpoints::register(
        &service.pool,
        service.sealer(),
        client_id,
        &url,
        &EventType::ALL,
    )
    .await?;
    Ok(Inbox::new(registered.secret))
}

struct Walkthrough<'a> {
    api: &'a str,
    sandbox: &'a str,
    demo: &'a str,
    api_key: &'a str,
    admin: Option<&'a DemoAdmin>,
    /// The private cluster's database (trust authentication on 127.0.0.1: no secret in it).
    database_url: Option<String>,
}

fn print_walkthrough(w: &Walkthrough<'_>) {
    let Walkthrough {
        api,
        sandbox,
        demo,
        api_key,
        ..
    } = w;
    let console = w
        .admin
        .map(|admin| {
            format!(
                "  console       {api}/console\n\
                 \x20               login {}   password {}\n\
                 \x20               TOTP secret {} (add it to an authenticator app, or\n\
                 \x20               print the current code: oathtool --totp -b {})\n",
                admin.login, admin.password, admin.totp_secret, admin.totp_secret
            )
        })
        .unwrap_or_default();
    let database = w
        .database_url
        .as_ref()
        .map(|url| {
            format!(
                "  database      {url}\n                (AISLE_DATABASE_URL={url} aisle client create ...)\n"
            )
        })
        .unwrap_or_default();
    println!(
        r#"
Aisle dev stack is up.
  API           {api}   (OpenAPI: {api}/openapi.json)
  sandbox bank  {sandbox}
  demo client   {demo}/demo
  demo API key  {api_key}
{console}{database}
Click through it: open {demo}/demo in a browser, pick "Aisle Sandbox Bank (Berlin Group)",
sign in as alice (password "sandbox", one-time code "123456") and watch the import arrive,
and its signed webhooks under "Webhooks received".

Or from a shell (needs curl and jq):

  export AISLE_KEY={api_key}

  # 1. sign in to the sandbox bank as alice (headless consent + SCA)
  SESSION=$(curl -s -X POST {api}/v1/sandbox/sessions \
    -H "Authorization: Bearer $AISLE_KEY" -H 'Content-Type: application/json' \
    -d '{{"bank":"sandbox","login":"alice","ownerExternalId":"owner-1"}}')

  # 2. start a Default Import with that session
  COMMAND=$(echo "$SESSION" | jq '{{sessionId, sessionIdSignature}}' | curl -s -X POST \
    {api}/v1/commands/default-import -H "Authorization: Bearer $AISLE_KEY" \
    -H 'Content-Type: application/json' -d @- | jq -r .commandId)

  # 3. poll until it is successful (or error); each account carries a receipt
  curl -s {api}/v1/commands/$COMMAND -H "Authorization: Bearer $AISLE_KEY" | jq '{{state, progress}}'
  curl -s {api}/v1/commands/$COMMAND -H "Authorization: Bearer $AISLE_KEY" | jq '.result.accounts[] | {{iban, booked: (.transactions.booked | length), receipt}}'

  Other banks: "sandbox-partner", "sandbox-account-service", "sandbox-decoupled" and
  "sandbox-embedded" (see GET {api}/v1/banks).
  Other personas: bob, dave, big, slow, flaky, expiring, garbage, locked, short-sca, twins,
  broken-balance, capped, trio, decoupled, embedded, mixed, report-download (README).
  Add "since":"YYYY-MM-DD" in step 2 for up to ten years.

Press Ctrl-C to stop (the private Postgres stops once this process has ended).
"#
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_is_written_readable_by_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("aisle-dev-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("demo-client.json");
        write_private(&path, b"{}").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(mode, 0o600, "{mode:o}");
    }
}
