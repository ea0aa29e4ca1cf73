//! The XML endpoints: Default Import, Get Import Result, the owner's data, sign-out and the
//! sandbox session. Each one goes through the same lifecycle as `/v1`'s JSON: commands start
//! only through [`start::default_import`] and are read from the same tables.

use std::collections::HashSet;

use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{Days, NaiveDate, Utc};
use uuid::Uuid;

use super::{
    caller::Caller,
    error::CompatError,
    mapping,
    xml::{Body, CommandXml, ExceptionXml, ProgressXml, Reply, ResultXml, SessionXml},
};
use crate::{
    commands::{
        finish::Finisher,
        start::{self, DefaultImportStart},
    },
    model::{
        command::{CommandErrorCode, CommandState},
        result::ImportResult,
    },
    signin::sandbox::{HeadlessSignIn, SandboxSignIn, SandboxSignInError},
    state::AppState,
    store::{
        commands::{self, Command},
        results::{self, Scope},
        sessions,
    },
};

/// How long a client should wait before polling an in-progress command again.
const RETRY_AFTER_SECS: &str = "2";
/// The most imports `data.xml` gathers for one owner.
const MAX_OWNER_IMPORTS: i64 = 100;

/// `POST /v1/command/default-import.xml`: `sessionId`, `sessionIdSignature`, `since?`.
pub async fn default_import(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, CompatError> {
    let params = &caller.params;
    let session_id = parse_session_id(params.required("sessionId")?)?;
    let signature = params.required("sessionIdSignature")?;
    let since = parse_since(params.get("since"), Utc::now().date_naive())?;
    let started = start::default_import(
        &state.pool,
        &state.signer,
        &DefaultImportStart {
            client_id: caller.client.id,
            session_id,
            signature,
            since,
            idempotency_key: caller.idempotency_key.as_deref(),
            fingerprint: &start::request_fingerprint(
                params.required("sessionId")?,
                signature,
                params.get("since"),
            ),
            max_attempts: state.config.worker.max_attempts,
        },
    )
    .await?;
    let command = commands::find_for_client(&state.pool, caller.client.id, started.command_id)
        .await?
        .ok_or_else(|| {
            CompatError::internal(std::io::Error::other("a started command is not found"))
        })?;
    let reply = Reply::new(
        StatusCode::ACCEPTED,
        Body::Command(Box::new(CommandXml {
            id: command.id.to_string(),
            state: mapping::state(command.state, command.error_code),
            name: mapping::DEFAULT_IMPORT,
            target: None,
            institution: None,
            progress: ProgressXml {
                value: mapping::progress_value(command.state, &command.progress.0),
            },
            exception: None,
            result: None,
        })),
    )
    .user(&caller.client.name)
    .owner(&command.owner_external_id);
    Ok(reply.into_response())
}

/// `GET /v1/command/{id}.xml`: the command's state, progress, then its result or exception.
/// Old clients also send `sessionId` and `sessionIdSignature`; they are not needed.
pub async fn get_command(
    State(state): State<AppState>,
    Path(file): Path<String>,
    caller: Caller,
) -> Result<Response, CompatError> {
    let command_id = file
        .strip_suffix(".xml")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(CompatError::InvalidCommandId)?;
    let command = commands::find_for_client(&state.pool, caller.client.id, command_id)
        .await?
        .ok_or(CompatError::InvalidCommandId)?;
    let keeps_result = command
        .error_code
        .is_some_and(CommandErrorCode::keeps_result);
    let result = if command.state == CommandState::Successful || keeps_result {
        Some(mapping::result(
            &load_result(&state, caller.client.id, command.id).await?,
        ))
    } else {
        None
    };
    let in_progress = command.state == CommandState::InProgress;
    let reply = Reply::new(
        StatusCode::OK,
        Body::Command(Box::new(command_xml(&state, &command, result))),
    )
    .user(&caller.client.name)
    .owner(&command.owner_external_id);
    let mut response = reply.into_response();
    if in_progress {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    Ok(response)
}

fn command_xml(state: &AppState, command: &Command, result: Option<ResultXml>) -> CommandXml {
    CommandXml {
        id: command.id.to_string(),
        state: mapping::state(command.state, command.error_code),
        name: mapping::DEFAULT_IMPORT,
        target: Some(command.bank_id.clone()),
        institution: state
            .registry
            .get(&command.bank_id)
            .map(|bank| bank.entry.name.clone()),
        progress: ProgressXml {
            value: mapping::progress_value(command.state, &command.progress.0),
        },
        exception: command.error_code.map(|code| ExceptionXml {
            name: mapping::exception_name(code),
            message: mapping::exception_message(code, command.error_detail.as_deref()),
        }),
        result,
    }
}

/// `GET /v1/data.xml?ownerExternalId=…`: the owner's data across banks, from the newest
/// successful import at each bank (an older import of the same bank is superseded by it).
pub async fn owner_data(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, CompatError> {
    let owner = caller.params.required("ownerExternalId")?;
    let imports =
        commands::successful_for_owner(&state.pool, caller.client.id, owner, MAX_OWNER_IMPORTS)
            .await?;
    if imports.is_empty() {
        return Err(CompatError::InvalidOwnerExternalId);
    }
    let mut banks = HashSet::new();
    let mut data = ImportResult::default();
    for command in imports.iter().filter(|c| banks.insert(c.bank_id.as_str())) {
        let mut result = load_result(&state, caller.client.id, command.id).await?;
        data.owners.append(&mut result.owners);
        data.accounts.append(&mut result.accounts);
        data.cards.append(&mut result.cards);
    }
    // The same person at two banks is one owner.
    let mut seen = HashSet::new();
    data.owners
        .retain(|o| seen.insert((o.name.clone(), o.kind.clone())));
    let reply = Reply::new(
        StatusCode::OK,
        Body::Result(Box::new(mapping::result(&data))),
    )
    .user(&caller.client.name)
    .owner(owner);
    Ok(reply.into_response())
}

/// `POST /v1/command/sign-out.xml`: `sessionId`, `sessionIdSignature`. Ends the bank session
/// of a session no import has claimed, and makes the session unusable. A claimed session's
/// bank session is its import's to end (it does, when the import ends): nothing to do.
pub async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, CompatError> {
    let session_id = parse_session_id(caller.params.required("sessionId")?)?;
    let signature = caller.params.required("sessionIdSignature")?;
    let mut tx = state.pool.begin().await?;
    let session = sessions::find_for_client(&mut tx, caller.client.id, session_id)
        .await?
        .ok_or(CompatError::InvalidSessionId)?;
    if !state.signer.verify(
        caller.client.id,
        session.id,
        &session.owner_external_id,
        signature,
    ) {
        return Err(CompatError::InvalidSessionIdSignature);
    }
    let erased = if session.claimed_at.is_none() {
        sessions::claim(&mut tx, caller.client.id, session.id).await?;
        sessions::erase_secret(&mut tx, caller.client.id, session.id).await?
    } else {
        None
    };
    tx.commit().await?;
    if let Some(erased) = erased {
        tracing::info!(bank = %session.bank_id, "session signed out before any import");
        finisher(&state).end_erased(erased).await;
    }
    let reply = Reply::new(StatusCode::OK, Body::Comment("signed out".into()))
        .user(&caller.client.name)
        .owner(&session.owner_external_id);
    Ok(reply.into_response())
}

/// `POST /v1/mock-session.xml`: `login`, `ownerExternalId`, `country?`, and Aisle's own
/// `target?` (a sandbox bank id). A headless sign-in at a sandbox bank, as
/// `POST /v1/sandbox/sessions`; refused for real banks.
pub async fn mock_session(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, CompatError> {
    let params = &caller.params;
    let login = params.required("login")?;
    let owner = params.required("ownerExternalId")?;
    if owner.len() > 255 {
        return Err(CompatError::InvalidParameter(
            "ownerExternalId must be 1 to 255 characters".into(),
        ));
    }
    let bank_id = match params.get("target") {
        Some(target) => target.to_string(),
        None => sandbox_bank_for(&state, params.get("country"))?,
    };
    let sign_in = SandboxSignIn {
        pool: &state.pool,
        registry: &state.registry,
        issuer: state.issuer(),
        public_url: &state.config.public_url,
    };
    let issued = sign_in
        .sign_in(&HeadlessSignIn {
            client_id: caller.client.id,
            bank_id: &bank_id,
            login,
            owner_external_id: owner,
            max_import_date: None,
            force_sca: false,
        })
        .await
        .map_err(|e| match e {
            SandboxSignInError::NotASandboxBank(_) => CompatError::InvalidTarget(e.to_string()),
            SandboxSignInError::Bank(bank) => CompatError::SignInRefused {
                name: mapping::exception_name(CommandErrorCode::for_bank_error(&bank)),
                message: bank.to_string(),
            },
            SandboxSignInError::Database(db) => db.into(),
            SandboxSignInError::AutoImport(queue) => CompatError::internal(queue),
        })?;
    let reply = Reply::new(
        StatusCode::OK,
        Body::Session(SessionXml {
            id: issued.session_id.to_string(),
            signature: issued.signature,
            target: issued.bank_id,
        }),
    )
    .user(&caller.client.name)
    .owner(owner);
    Ok(reply.into_response())
}

/// The first sandbox bank in the registry, of `country` when one is named.
fn sandbox_bank_for(state: &AppState, country: Option<&str>) -> Result<String, CompatError> {
    state
        .registry
        .banks()
        .filter(|bank| bank.entry.sandbox)
        .find(|bank| country.is_none_or(|c| bank.entry.country.eq_ignore_ascii_case(c)))
        .map(|bank| bank.entry.id.clone())
        .ok_or_else(|| CompatError::InvalidTarget("no sandbox bank in this country".into()))
}

/// The one place this face reads a stored result.
async fn load_result(
    state: &AppState,
    client_id: Uuid,
    command_id: Uuid,
) -> Result<ImportResult, CompatError> {
    Ok(results::load(
        &state.pool,
        Scope {
            client_id,
            command_id,
        },
    )
    .await?)
}

fn finisher(state: &AppState) -> Finisher {
    Finisher {
        pool: state.pool.clone(),
        registry: state.registry.clone(),
        sealer: state.sealer.clone(),
    }
}

fn parse_session_id(raw: &str) -> Result<Uuid, CompatError> {
    Uuid::parse_str(raw).map_err(|_| CompatError::InvalidSessionId)
}

/// `since` as a date no later than today; absent means today − 90 days, as on `/v1`.
fn parse_since(since: Option<&str>, today: NaiveDate) -> Result<NaiveDate, CompatError> {
    let Some(since) = since else {
        return Ok(today - Days::new(90));
    };
    let date = NaiveDate::parse_from_str(since, "%Y-%m-%d")
        .map_err(|_| CompatError::InvalidSince(format!("`{since}` is not a YYYY-MM-DD date")))?;
    if date > today {
        return Err(CompatError::InvalidSince(format!(
            "`{since}` is in the future"
        )));
    }
    Ok(date)
}
