//! The outbox: an event is written in the transaction that changed the state it reports, so it
//! exists exactly when that change committed, and is delivered after it at least once.
//!
//! Payloads are small and never carry bank data: ids, state, an error code, and links
//! (relative to the API's base URL) to read the rest with the client's API key.

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::EventType;
use crate::{
    model::command::Outcome,
    store::{
        signins::{Channel, SignIn, Status},
        webhooks,
    },
};

/// Writes `event` with `data` for the client, and a delivery to each endpoint subscribed to
/// it. Nothing is written when no endpoint subscribes.
pub async fn record(
    conn: &mut PgConnection,
    client_id: Uuid,
    event: EventType,
    data: Value,
) -> Result<(), sqlx::Error> {
    if !webhooks::has_subscriber(conn, client_id, event).await? {
        return Ok(());
    }
    insert(conn, client_id, event, data).await
}

/// Writes the event for the subscribers [`record`]'s caller found.
async fn insert(
    conn: &mut PgConnection,
    client_id: Uuid,
    event: EventType,
    data: Value,
) -> Result<(), sqlx::Error> {
    let id = Uuid::now_v7();
    let payload = json!({
        "type": event,
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    });
    let deliveries = webhooks::insert_event(conn, id, client_id, event, &payload).await?;
    tracing::debug!(event_id = %id, event = event.as_str(), deliveries, "webhook event recorded");
    Ok(())
}

/// The command an import event is about.
#[derive(Debug, Clone, Copy)]
pub struct EndedCommand<'a> {
    pub client_id: Uuid,
    pub command_id: Uuid,
    pub session_id: Uuid,
    pub bank_id: &'a str,
}

/// `import.succeeded` or `import.failed` for a command that just ended, inside the
/// transaction that ended it.
pub async fn command_ended(
    conn: &mut PgConnection,
    target: EndedCommand<'_>,
    outcome: &Outcome,
) -> Result<(), sqlx::Error> {
    let event = match outcome {
        Outcome::Successful => EventType::ImportSucceeded,
        Outcome::Error { .. } => EventType::ImportFailed,
    };
    if !webhooks::has_subscriber(conn, target.client_id, event).await? {
        return Ok(());
    }
    let owner = webhooks::owner_of_session(conn, target.client_id, target.session_id).await?;
    let mut data = json!({
        "commandId": target.command_id,
        "bank": target.bank_id,
        "ownerExternalId": owner,
        "links": {"command": format!("/v1/commands/{}", target.command_id)},
    });
    match outcome {
        Outcome::Successful => data["state"] = json!("successful"),
        Outcome::Error { code, .. } => {
            data["state"] = json!("error");
            data["errorCode"] = json!(code);
        }
    }
    insert(conn, target.client_id, event, data).await
}

/// `signin.succeeded` or `signin.failed` for a sign-in that just ended, inside the
/// transaction that ended it. A widget sign-in's id is the owner's capability, so only a
/// redirection's (which the client's backend already holds) is sent.
pub async fn signin_ended(conn: &mut PgConnection, signin: &SignIn) -> Result<(), sqlx::Error> {
    let event = match signin.status {
        Status::Succeeded => EventType::SigninSucceeded,
        Status::Failed => EventType::SigninFailed,
        Status::Picking | Status::InProgress => return Ok(()),
    };
    let mut data = json!({
        "channel": signin.opened.channel,
        "bank": signin.bank_id,
        "ownerExternalId": signin.opened.owner_external_id,
    });
    if signin.opened.channel == Channel::Redirection {
        data["redirectionId"] = json!(signin.id);
        data["links"] = json!({"redirection": format!("/v1/signin/redirections/{}", signin.id)});
    }
    match event {
        EventType::SigninSucceeded => data["sessionId"] = json!(signin.session_id),
        _ => data["errorCode"] = json!(signin.error_code),
    }
    record(conn, signin.opened.client_id, event, data).await
}
