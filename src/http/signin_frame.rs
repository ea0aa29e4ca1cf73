//! The sign-in pages' own JSON API. No API key: the sign-in id in the path is the owner's
//! capability (unguessable, known only to the widget's frame or the redirection link).
//! Bodies are JSON, so a cross-site form cannot post here without a CORS preflight we refuse.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{get, post},
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{auth::CallerIp, error::ApiError, json::AppJson};
use crate::{
    registry::Registry,
    signin::{
        flow::{FlowError, offered},
        signature::SessionSigner,
    },
    state::AppState,
    store::{
        clients, commands,
        signins::{self, Channel, Choice, Field, SignIn, Status, Step},
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signin/api/{id}", get(view))
        .route("/signin/api/{id}/bank", post(choose_bank))
        .route("/signin/api/{id}/form", post(answer_form))
        .route("/signin/api/{id}/back", post(back))
        .route("/signin/api/{id}/poll", post(poll))
        .route("/signin/api/{id}/retry", post(retry))
}

/// What the sign-in pages show; see `widget-contract` in the README for the whole shape.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInView {
    id: Uuid,
    channel: Channel,
    status: Status,
    client_name: String,
    /// Widget: where the frame may post its messages, and the state they must carry.
    parent_origin: Option<String>,
    state: Option<String>,
    locale: String,
    country: Option<String>,
    /// A preselected bank that is not offered (the client page hears `unsupportedTarget`).
    unsupported_bank: Option<String>,
    banks: Vec<BankOption>,
    bank: Option<BankRef>,
    step: Option<StepView>,
    session: Option<SessionView>,
    error: Option<ErrorView>,
    /// Redirection, once ended: where the owner goes back to.
    return_to: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BankOption {
    id: String,
    name: String,
    country: String,
    sign_in: String,
}

#[derive(Debug, Serialize)]
struct BankRef {
    id: String,
    name: String,
}

/// A step without the bank's URL: the pages go through `/signin/s/{id}/go`.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum StepView {
    Redirect,
    Form {
        fields: Vec<Field>,
    },
    Choose {
        name: String,
        label: String,
        options: Vec<Choice>,
    },
    /// The owner approves in the bank's app; the page polls `/poll` every `poll_after_ms`.
    #[serde(rename_all = "camelCase")]
    Wait {
        message: String,
        poll_after_ms: u64,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    target: String,
    session_id: Uuid,
    session_id_signature: String,
    /// The Default Import the sign-in started by itself (auto import), or the one the client
    /// started with the session since.
    command_id: Option<Uuid>,
}

#[derive(Debug, Serialize)]
struct ErrorView {
    code: String,
    message: String,
}

/// The code an unfinished sign-in reports once its time is up.
pub const EXPIRED: &str = "SignInExpired";

/// Where a redirection returns the owner: the registered URI with `redirectionId` added.
pub fn return_to(signin: &SignIn) -> Option<String> {
    let mut uri = url::Url::parse(signin.opened.redirect_uri.as_deref()?).ok()?;
    uri.query_pairs_mut()
        .append_pair("redirectionId", &signin.id.to_string());
    Some(uri.into())
}

/// The status and error a sign-in shows now: an open one past its time has failed.
pub fn outcome(signin: &SignIn) -> (Status, Option<(String, String)>) {
    let open = matches!(signin.status, Status::Picking | Status::InProgress);
    if open && signin.expired(Utc::now()) {
        let detail = "the sign-in was not finished in time".to_string();
        return (Status::Failed, Some((EXPIRED.into(), detail)));
    }
    let error = signin.error_code.clone().map(|code| {
        let detail = signin.error_detail.clone().unwrap_or_default();
        (code, detail)
    });
    (signin.status, error)
}

impl SignInView {
    fn new(
        signin: &SignIn,
        client_name: String,
        command_id: Option<Uuid>,
        registry: &Registry,
        signer: &SessionSigner,
    ) -> Self {
        let (status, error) = outcome(signin);
        let banks = offered(registry, signin.opened.country.as_deref());
        let unsupported_bank = signin
            .opened
            .preselected_bank
            .clone()
            .filter(|id| !banks.iter().any(|bank| &bank.entry.id == id));
        let bank = signin.bank_id.as_deref().map(|id| BankRef {
            id: id.to_string(),
            name: registry
                .get(id)
                .map_or_else(|| id.to_string(), |bank| bank.entry.name.clone()),
        });
        let step = match (status, signin.step.as_deref()) {
            (Status::InProgress, Some(Step::Redirect { .. })) => Some(StepView::Redirect),
            (Status::InProgress, Some(Step::Form { fields })) => Some(StepView::Form {
                fields: fields.clone(),
            }),
            (
                Status::InProgress,
                Some(Step::Choose {
                    name,
                    label,
                    options,
                }),
            ) => Some(StepView::Choose {
                name: name.clone(),
                label: label.clone(),
                options: options.clone(),
            }),
            (
                Status::InProgress,
                Some(Step::Wait {
                    message,
                    poll_after_ms,
                }),
            ) => Some(StepView::Wait {
                message: message.clone(),
                poll_after_ms: *poll_after_ms,
            }),
            _ => None,
        };
        let widget = signin.opened.channel == Channel::Widget;
        let session = match (widget, status, signin.session_id, &signin.bank_id) {
            (true, Status::Succeeded, Some(session_id), Some(target)) => Some(SessionView {
                target: target.clone(),
                session_id,
                session_id_signature: signer.sign(
                    signin.opened.client_id,
                    session_id,
                    &signin.opened.owner_external_id,
                ),
                command_id,
            }),
            _ => None,
        };
        let ended = matches!(status, Status::Succeeded | Status::Failed);
        Self {
            id: signin.id,
            channel: signin.opened.channel,
            status,
            client_name,
            parent_origin: signin.opened.parent_origin.clone(),
            state: signin.opened.widget_state.clone(),
            locale: signin.opened.locale.clone(),
            country: signin.opened.country.clone(),
            unsupported_bank,
            banks: banks
                .into_iter()
                .map(|bank| BankOption {
                    id: bank.entry.id.clone(),
                    name: bank.entry.name.clone(),
                    country: bank.entry.country.clone(),
                    sign_in: bank.entry.sign_in.clone(),
                })
                .collect(),
            bank,
            step,
            session,
            error: error.map(|(code, message)| ErrorView { code, message }),
            return_to: (ended && !widget).then(|| return_to(signin)).flatten(),
        }
    }
}

async fn render(state: &AppState, signin: &SignIn) -> Result<Json<SignInView>, ApiError> {
    let client_name = clients::find(&state.pool, signin.opened.client_id)
        .await?
        .map(|client| client.name)
        .unwrap_or_default();
    let command_id = match (signin.status, signin.session_id) {
        (Status::Succeeded, Some(session)) => {
            commands::for_session(&state.pool, signin.opened.client_id, session)
                .await?
                .map(|command| command.id)
        }
        _ => None,
    };
    Ok(Json(SignInView::new(
        signin,
        client_name,
        command_id,
        &state.registry,
        &state.signer,
    )))
}

async fn view(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SignInView>, ApiError> {
    let signin = signins::find(&state.pool, parse_id(&id)?)
        .await?
        .ok_or(ApiError::InvalidSignInId)?;
    render(&state, &signin).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChooseBank {
    bank: String,
}

async fn choose_bank(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CallerIp(ip): CallerIp,
    AppJson(body): AppJson<ChooseBank>,
) -> Result<Json<SignInView>, ApiError> {
    state.throttle.check(ip).map_err(ApiError::RateLimited)?;
    let signin = state
        .flow()
        .choose_bank(parse_id(&id)?, &body.bank, ip)
        .await?;
    render(&state, &signin).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormAnswer {
    values: BTreeMap<String, String>,
}

async fn answer_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AppJson(body): AppJson<FormAnswer>,
) -> Result<Json<SignInView>, ApiError> {
    let signin = state
        .flow()
        .answer_form(parse_id(&id)?, &body.values)
        .await?;
    render(&state, &signin).await
}

async fn poll(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SignInView>, ApiError> {
    let id = parse_id(&id)?;
    let flow = state.flow();
    let signin = match flow.poll(id).await {
        Ok(signin) => signin,
        // Another poll holds the turn, or the step moved on: show where it stands now.
        Err(FlowError::Busy | FlowError::WrongStep) => signins::find(&state.pool, id)
            .await?
            .ok_or(ApiError::InvalidSignInId)?,
        Err(e) => return Err(e.into()),
    };
    render(&state, &signin).await
}

async fn back(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SignInView>, ApiError> {
    let signin = state.flow().back_to_banks(parse_id(&id)?).await?;
    render(&state, &signin).await
}

#[derive(Debug, Serialize)]
struct Retried {
    id: Uuid,
}

async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CallerIp(ip): CallerIp,
) -> Result<Json<Retried>, ApiError> {
    state.throttle.check(ip).map_err(ApiError::RateLimited)?;
    let signin = state.flow().retry(parse_id(&id)?, ip).await?;
    Ok(Json(Retried { id: signin.id }))
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::InvalidSignInId)
}
