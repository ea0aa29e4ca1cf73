//! The sign-in pages' own JSON API. No API key: the sign-in id in the path is the owner's
//! capability (unguessable, known only to the widget's frame or the redirection link).
//! Bodies are JSON, so a cross-site form cannot post here without a CORS preflight we refuse,
//! and every POST must come from Aisle's own pages ([`FromOurPages`]).
//!
//! A widget's session is never part of what `GET /signin/api/{id}` shows: only
//! `POST /signin/api/{id}/complete` hands it out, once, for the one-time completion code that
//! the window which finished the sign-in received (see `signin::binding`).

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::{FromRequestParts, Path, State},
    http::{header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{auth::CallerIp, browser_binding::CookiePolicy, error::ApiError, json::AppJson};
use crate::{
    registry::Registry,
    signin::{
        binding::{BrowserKey, CompletionCode},
        flow::{Answered, FlowError, offered},
        signature::SessionSigner,
    },
    state::AppState,
    store::{
        clients,
        signins::{self, Bind, Channel, Choice, Field, SignIn, Status, Step},
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
        .route("/signin/api/{id}/arrive", post(arrive))
        .route("/signin/api/{id}/complete", post(complete))
}

/// A request made by one of Aisle's own pages. A browser says where a request comes from in
/// `Sec-Fetch-Site` and `Origin`; whichever it sends must name Aisle itself, so no other site
/// can make an owner's browser open or answer a sign-in. A caller that is not a browser sends
/// neither, and gains nothing from it: it could write them too.
pub struct FromOurPages {
    /// Whether the browser sent `Origin` (every browser does on a POST).
    pub origin_sent: bool,
}

impl FromRequestParts<AppState> for FromOurPages {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let headers = &parts.headers;
        if let Some(site) = headers.get("sec-fetch-site")
            && site.as_bytes() != b"same-origin"
        {
            return Err(ApiError::ForbiddenOrigin);
        }
        let origin = headers.get(header::ORIGIN);
        if let Some(origin) = origin
            && Some(origin.as_bytes())
                != own_origin(&state.config.public_url)
                    .as_deref()
                    .map(str::as_bytes)
        {
            return Err(ApiError::ForbiddenOrigin);
        }
        Ok(Self {
            origin_sent: origin.is_some(),
        })
    }
}

/// `https://aisle.example` as a browser writes it in `Origin`.
fn own_origin(public_url: &str) -> Option<String> {
    url::Url::parse(public_url)
        .ok()
        .map(|url| url.origin().ascii_serialization())
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
    /// Only in the answer to `/complete`.
    session: Option<SessionView>,
    /// Only in the answer to the step (a form, a poll) that finished a widget sign-in: the
    /// frame exchanges it at `/complete`.
    completion_code: Option<String>,
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
    /// The auto import's command, when the sign-in started one; `null` leaves the import to
    /// the client's backend.
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
    fn new(signin: &SignIn, client_name: String, registry: &Registry) -> Self {
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
            session: None,
            completion_code: None,
            error: error.map(|(code, message)| ErrorView { code, message }),
            return_to: (ended && !widget).then(|| return_to(signin)).flatten(),
        }
    }

    /// The session of a widget sign-in that succeeded; only `/complete` shows it.
    fn with_session(
        mut self,
        signin: &SignIn,
        command_id: Option<Uuid>,
        signer: &SessionSigner,
    ) -> Self {
        if let (Channel::Widget, Some(session_id), Some(target)) =
            (signin.opened.channel, signin.session_id, &signin.bank_id)
        {
            self.session = Some(SessionView {
                target: target.clone(),
                session_id,
                session_id_signature: signer.sign(
                    signin.opened.client_id,
                    session_id,
                    &signin.opened.owner_external_id,
                ),
                command_id,
            });
        }
        self
    }
}

async fn view_of(state: &AppState, signin: &SignIn) -> Result<SignInView, ApiError> {
    let client_name = clients::find(&state.pool, signin.opened.client_id)
        .await?
        .map(|client| client.name)
        .unwrap_or_default();
    Ok(SignInView::new(signin, client_name, &state.registry))
}

async fn render(state: &AppState, signin: &SignIn) -> Result<Json<SignInView>, ApiError> {
    Ok(Json(view_of(state, signin).await?))
}

/// The answer to a step: what the sign-in shows, and the completion code when this very
/// answer finished it.
async fn render_answered(
    state: &AppState,
    answered: &Answered,
) -> Result<Json<SignInView>, ApiError> {
    let mut view = view_of(state, &answered.signin).await?;
    view.completion_code = answered
        .completion
        .as_ref()
        .map(|code| code.expose().to_owned());
    Ok(Json(view))
}

/// A redirection's page runs top level in one browser, so a bank attempt it begins is bound to
/// that browser at once: the bank link then works only there, and the bank's way back too.
/// (A widget's frame is a third-party frame, whose cookies browsers partition or refuse: its
/// attempts are bound where its bank window first opens them, at `/go`.)
async fn bind_redirection(
    state: &AppState,
    signin: &SignIn,
    begun: bool,
    view: Json<SignInView>,
) -> Result<Response, ApiError> {
    let mut response = view.into_response();
    let Some(token) = signin.callback_token.as_deref() else {
        return Ok(response);
    };
    if !begun || signin.opened.channel != Channel::Redirection {
        return Ok(response);
    }
    let key = BrowserKey::generate();
    if signins::bind_browser(&state.pool, signin.id, token, &key.hash(), Bind::Replace).await?
        && let Some(cookie) = CookiePolicy::for_public_url(&state.config.public_url)
            .set_cookie(&key, signin.opened.expires_at - Utc::now())
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
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
    _: FromOurPages,
    AppJson(body): AppJson<ChooseBank>,
) -> Result<Response, ApiError> {
    state.throttle.check(ip).map_err(ApiError::RateLimited)?;
    let signin = state
        .flow()
        .choose_bank(parse_id(&id)?, &body.bank, ip)
        .await?;
    let view = render(&state, &signin).await?;
    bind_redirection(&state, &signin, true, view).await
}

/// A redirection's page opened: a bank preselected by the client's backend begins now, with
/// the owner's address. A POST from the page, not the page's GET, so that a link scanner or
/// a prefetch calls no bank and binds no browser.
async fn arrive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CallerIp(ip): CallerIp,
    _: FromOurPages,
) -> Result<Response, ApiError> {
    let signin = signins::find(&state.pool, parse_id(&id)?)
        .await?
        .ok_or(ApiError::InvalidSignInId)?;
    if signin.opened.channel != Channel::Redirection || signin.status != Status::Picking {
        return Ok(render(&state, &signin).await?.into_response());
    }
    state.throttle.check(ip).map_err(ApiError::RateLimited)?;
    let before = signin.callback_token.clone();
    let signin = match state.flow().arrive(signin, ip).await {
        Ok(signin) => signin,
        // Another request of the page begins it: show where it stands.
        Err(FlowError::Busy | FlowError::WrongStep) => signins::find(&state.pool, parse_id(&id)?)
            .await?
            .ok_or(ApiError::InvalidSignInId)?,
        Err(e) => return Err(e.into()),
    };
    let begun = signin.callback_token.is_some() && signin.callback_token != before;
    let view = render(&state, &signin).await?;
    bind_redirection(&state, &signin, begun, view).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Completion {
    code: String,
}

/// The session of a finished widget sign-in, for its one-time completion code.
async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: FromOurPages,
    AppJson(body): AppJson<Completion>,
) -> Result<Json<SignInView>, ApiError> {
    let code = CompletionCode::from_presented(&body.code);
    let (signin, command_id) = state
        .flow()
        .hand_over(parse_id(&id)?, &code.hash())
        .await?
        .ok_or(ApiError::CompletionRefused)?;
    let view = view_of(&state, &signin).await?;
    Ok(Json(view.with_session(&signin, command_id, &state.signer)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormAnswer {
    values: BTreeMap<String, String>,
}

async fn answer_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: FromOurPages,
    AppJson(body): AppJson<FormAnswer>,
) -> Result<Json<SignInView>, ApiError> {
    let answered = state
        .flow()
        .answer_form(parse_id(&id)?, &body.values)
        .await?;
    render_answered(&state, &answered).await
}

async fn poll(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: FromOurPages,
) -> Result<Json<SignInView>, ApiError> {
    let id = parse_id(&id)?;
    let flow = state.flow();
    let answered = match flow.poll(id).await {
        Ok(answered) => answered,
        // Another poll holds the turn, or the step moved on: show where it stands now.
        Err(FlowError::Busy | FlowError::WrongStep) => signins::find(&state.pool, id)
            .await?
            .ok_or(ApiError::InvalidSignInId)?
            .into(),
        Err(e) => return Err(e.into()),
    };
    render_answered(&state, &answered).await
}

async fn back(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: FromOurPages,
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
    _: FromOurPages,
) -> Result<Json<Retried>, ApiError> {
    state.throttle.check(ip).map_err(ApiError::RateLimited)?;
    let signin = state.flow().retry(parse_id(&id)?, ip).await?;
    Ok(Json(Retried { id: signin.id }))
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::InvalidSignInId)
}
