//! The pages owners see: `/widget.js` for client pages, the widget's entry, the sign-in frame
//! (also the redirection link's page), the hop to the bank, and the bank's way back.
//!
//! Every page is static HTML whose script reads the sign-in from `/signin/api`; what differs
//! per sign-in is the `Content-Security-Policy`: a widget's frame may be embedded only by the
//! client's registered origin, a redirection's page by nobody.

use std::collections::BTreeMap;

use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use chrono::{NaiveDate, Utc};
use uuid::Uuid;

use super::{auth::CallerIp, signin_frame::return_to};
use crate::{
    model::input::{AutoImportChoice, AutoImportMonths, BankId, OwnerExternalId},
    signin::{
        flow::FlowError,
        options::{Opener, SignInOptions},
        origins,
    },
    state::AppState,
    store::{
        clients,
        signins::{self, Channel, NewSignIn, SignIn, Status, Step},
    },
};

const WIDGET_JS: &str = include_str!("../signin/assets/widget.js");
const FRAME_HTML: &str = include_str!("../signin/assets/frame.html");
const FRAME_JS: &str = include_str!("../signin/assets/frame.js");
const FRAME_CSS: &str = include_str!("../signin/assets/frame.css");
const DONE_HTML: &str = include_str!("../signin/assets/done.html");
const DONE_JS: &str = include_str!("../signin/assets/done.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/widget.js", get(|| async { asset(WIDGET_JS, JS) }))
        .route(
            "/signin/assets/frame.js",
            get(|| async { asset(FRAME_JS, JS) }),
        )
        .route(
            "/signin/assets/frame.css",
            get(|| async { asset(FRAME_CSS, CSS) }),
        )
        .route(
            "/signin/assets/done.js",
            get(|| async { asset(DONE_JS, JS) }),
        )
        .route("/signin/widget", get(widget_entry))
        .route("/signin/s/{id}", get(frame))
        .route("/signin/s/{id}/go", get(go_to_bank))
        .route("/signin/done", get(|| async { page(DONE_HTML, "'none'") }))
        .route("/signin/callback/{token}", get(bank_callback))
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// An HTML page that only our own scripts and styles run on, embeddable by `frame_ancestors`.
fn page(body: &'static str, frame_ancestors: &str) -> Response {
    html(StatusCode::OK, body.to_string(), frame_ancestors)
}

fn html(status: StatusCode, body: String, frame_ancestors: &str) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:; form-action 'self'; base-uri 'none'; \
         frame-ancestors {frame_ancestors}"
    );
    let mut response = (status, axum::response::Html(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // The sign-in id is in the URL: never hand it to the bank as a referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page that explains why there is no sign-in to show. It holds nothing secret, so any page
/// may frame it: the developer embedding the widget wrongly sees why. The message is ours, a
/// constant, never text from the request, so it needs no escaping.
fn problem_page(status: StatusCode, message: &'static str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Bank sign-in</title><link rel=\"stylesheet\" href=\"/signin/assets/frame.css\">\
         </head><body><main data-screen=\"problem\"><h1>Bank sign-in unavailable</h1>\
         <p role=\"alert\">{message}</p></main></body></html>\n"
    );
    html(status, body, "*")
}

/// The widget iframe's first URL, as `/widget.js` builds it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WidgetQuery {
    client: Option<String>,
    origin: Option<String>,
    state: Option<String>,
    owner_external_id: Option<String>,
    country: Option<String>,
    locale: Option<String>,
    bank: Option<String>,
    max_import_date: Option<String>,
    force_sca: Option<String>,
    /// `off`, or a number of months; see [`auto_import_choice`].
    auto_import: Option<String>,
}

/// Checks the embedding client and its origin, opens the sign-in and shows its frame.
async fn widget_entry(
    State(state): State<AppState>,
    CallerIp(ip): CallerIp,
    Query(query): Query<WidgetQuery>,
) -> Response {
    if let Err(wait) = state.throttle.check(ip) {
        let mut page = problem_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins from this address. Please wait a minute and try again.",
        );
        page.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return page;
    }
    let new = match widget_signin(&state, query).await {
        Ok(new) => new,
        Err(Refusal::Bad(message)) => return problem_page(StatusCode::BAD_REQUEST, message),
        Err(Refusal::Database(e)) => return database_problem(&e),
    };
    match state.flow().start(&new, ip).await {
        Ok(signin) => Redirect::to(&format!("/signin/s/{}", signin.id)).into_response(),
        Err(FlowError::Database(e)) => database_problem(&e),
        Err(e) => {
            tracing::warn!(error = %e, "a widget sign-in could not start");
            problem_page(
                StatusCode::CONFLICT,
                "This sign-in cannot start. Please try again.",
            )
        }
    }
}

enum Refusal {
    Bad(&'static str),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

async fn widget_signin(state: &AppState, query: WidgetQuery) -> Result<NewSignIn, Refusal> {
    let client_id = query
        .client
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(Refusal::Bad("`client` must be the client's id"))?;
    let client = clients::find(&state.pool, client_id)
        .await?
        .ok_or(Refusal::Bad("no client has this id"))?;
    let parent_origin = query
        .origin
        .as_deref()
        .and_then(|origin| origins::widget_origin(origin).ok())
        .filter(|origin| client.widget_origins.contains(origin))
        .ok_or(Refusal::Bad(
            "this page's origin is not registered for the client's widget \
             (aisle client register --widget-origin)",
        ))?;
    let widget_state = query
        .state
        .filter(|s| (16..=128).contains(&s.len()) && s.bytes().all(is_token_byte))
        .ok_or(Refusal::Bad(
            "`state` must be 16 to 128 letters, digits, `-` or `_`",
        ))?;
    let max_import_date = match query.max_import_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(date) => Some(
            NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| Refusal::Bad("maxImportDate must be a date, YYYY-MM-DD"))?,
        ),
    };
    let force_sca = match query.force_sca.as_deref() {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => return Err(Refusal::Bad("forceSca must be true or false")),
    };
    // What the database could not hold is refused here, like the API's own parameters.
    let owner_external_id = OwnerExternalId::parse(
        query.owner_external_id.as_deref().unwrap_or_default(),
    )
    .map_err(|_| {
        Refusal::Bad("ownerExternalId must be 1 to 255 characters, without control characters")
    })?;
    if let Some(bank) = query
        .bank
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        BankId::parse(bank).map_err(|_| Refusal::Bad("bank must be a bank id from /v1/banks"))?;
    }
    let options = SignInOptions::new(
        owner_external_id.as_str(),
        query.country.as_deref(),
        query.locale.as_deref(),
        query.bank.as_deref(),
        max_import_date,
        force_sca,
        Utc::now().date_naive(),
    )
    .map_err(Refusal::Bad)?
    .with_auto_import(auto_import_choice(query.auto_import.as_deref())?);
    let opener = Opener::Widget {
        parent_origin,
        state: widget_state,
    };
    let client_auto_import = clients::auto_import_months(&state.pool, client_id).await?;
    Ok(options.open(
        client_id,
        client_auto_import,
        opener,
        Utc::now() + state.flow().ttl,
    ))
}

/// The embed's `autoImport`, as `/widget.js` writes it: `off` for `false`, the months for
/// `{months: N}`, nothing (or `on`, for `true`) to follow the client's setting.
fn auto_import_choice(raw: Option<&str>) -> Result<AutoImportChoice, Refusal> {
    match raw.map(str::trim) {
        None | Some("" | "on") => Ok(AutoImportChoice::ClientSetting),
        Some("off") => Ok(AutoImportChoice::Off),
        Some(months) => months
            .parse::<i64>()
            .ok()
            .and_then(|months| AutoImportMonths::new(months).ok())
            .map(AutoImportChoice::Months)
            .ok_or(Refusal::Bad(
                "autoImport must be false or {months: N} with N from 1 to 120",
            )),
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The sign-in's page: the frame inside the widget, or a redirection's top-level page.
async fn frame(
    State(state): State<AppState>,
    CallerIp(ip): CallerIp,
    Path(id): Path<String>,
) -> Response {
    match find(&state, &id).await {
        Ok(Some(signin)) if signin.opened.channel == Channel::Redirection => {
            let ancestors = frame_ancestors(&signin);
            // A redirection's bank is begun here, where the owner's address is known. A busy
            // or already begun sign-in is simply shown.
            if let Err(e) = state.flow().arrive(signin, ip).await {
                tracing::debug!(error = %e, "a redirection's preselected bank was not begun");
            }
            page(FRAME_HTML, &ancestors)
        }
        Ok(Some(signin)) => page(FRAME_HTML, &frame_ancestors(&signin)),
        Ok(None) => problem_page(StatusCode::NOT_FOUND, "This sign-in does not exist."),
        Err(e) => database_problem(&e),
    }
}

fn frame_ancestors(signin: &SignIn) -> String {
    match (&signin.opened.channel, &signin.opened.parent_origin) {
        (Channel::Widget, Some(origin)) => origin.clone(),
        _ => "'none'".into(),
    }
}

/// Sends the owner to the bank's SCA page of the current step.
async fn go_to_bank(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match find(&state, &id).await {
        Ok(Some(signin)) => match (signin.status, signin.step.as_deref()) {
            (Status::InProgress, Some(Step::Redirect { url })) if !signin.expired(Utc::now()) => {
                Redirect::to(url).into_response()
            }
            _ => Redirect::to(&format!("/signin/s/{}", signin.id)).into_response(),
        },
        Ok(None) => problem_page(StatusCode::NOT_FOUND, "This sign-in does not exist."),
        Err(e) => database_problem(&e),
    }
}

/// The bank sends the owner back here; the token in the path names the sign-in.
async fn bank_callback(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    match state.flow().bank_callback(&token, params).await {
        Ok(signin) => after_bank(&signin),
        Err(FlowError::Database(e)) => database_problem(&e),
        Err(e @ FlowError::AutoImport(_)) => {
            tracing::error!(error = %e, "a sign-in's auto import could not be queued");
            problem_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Please try again.",
            )
        }
        // A repeated or late callback (a reload, a double click at the bank): show wherever
        // the sign-in is now.
        Err(_) => match signins::find_by_callback_token(&state.pool, &token).await {
            Ok(Some(signin)) => after_bank(&signin),
            Ok(None) => problem_page(
                StatusCode::NOT_FOUND,
                "This sign-in link is no longer valid. Please start again from the site.",
            ),
            Err(e) => database_problem(&e),
        },
    }
}

/// Where the owner goes once the bank sent them back: the widget's popup closes itself, a
/// redirection continues on its page or returns to the client.
fn after_bank(signin: &SignIn) -> Response {
    let ended = matches!(signin.status, Status::Succeeded | Status::Failed);
    match signin.opened.channel {
        Channel::Widget => Redirect::to("/signin/done").into_response(),
        Channel::Redirection if ended => match return_to(signin) {
            Some(uri) => Redirect::to(&uri).into_response(),
            None => problem_page(StatusCode::INTERNAL_SERVER_ERROR, "No way back."),
        },
        Channel::Redirection => Redirect::to(&format!("/signin/s/{}", signin.id)).into_response(),
    }
}

async fn find(state: &AppState, id: &str) -> Result<Option<SignIn>, sqlx::Error> {
    match Uuid::parse_str(id) {
        Ok(id) => signins::find(&state.pool, id).await,
        Err(_) => Ok(None),
    }
}

fn database_problem(e: &sqlx::Error) -> Response {
    tracing::error!(error = %e, "a sign-in page failed on the database");
    problem_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. Please try again.",
    )
}
