//! The pages owners see: `/widget.js` for client pages, the widget's entry, the sign-in frame
//! (also the redirection link's page), the hop to the bank, and the bank's way back.
//!
//! Pages are minijinja templates (`templates/signin/`) whose script reads the sign-in from
//! `/signin/api`; what differs per sign-in is the `Content-Security-Policy`: a widget's frame
//! may be embedded only by the client's registered origin, a redirection's page by nobody.
//!
//! GETs only render. A sign-in is opened, and a bank called, only by a POST from Aisle's own
//! pages (`POST /signin/widget`, the frame's `/signin/api` calls). The hop to the bank binds the
//! bank attempt to the browser that takes it, and the bank's way back is refused elsewhere.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use chrono::{NaiveDate, Utc};
use minijinja::context;
use uuid::Uuid;

use super::{
    auth::CallerIp,
    browser_binding::CookiePolicy,
    error::ApiError,
    json::AppJson,
    signin_frame::{FromOurPages, return_to},
    templates,
};
use crate::{
    model::input::{AutoImportChoice, AutoImportMonths, BankId, OwnerExternalId},
    signin::{
        binding::{BrowserKey, CompletionCode},
        flow::FlowError,
        options::{Opener, SignInOptions},
        origins,
    },
    state::AppState,
    store::{
        clients,
        signins::{self, Bind, Channel, NewSignIn, SignIn, Status, Step},
    },
};

const WIDGET_JS: &str = include_str!("../signin/assets/widget.js");
const FRAME_JS: &str = include_str!("../signin/assets/frame.js");
const FRAME_CSS: &str = include_str!("../signin/assets/frame.css");
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
        .route("/signin/widget", get(widget_entry).post(open_widget_signin))
        .route("/signin/s/{id}", get(frame))
        .route("/signin/s/{id}/go", get(go_to_bank))
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

/// What a page lets the window that opened it keep (`Cross-Origin-Opener-Policy`).
#[derive(Debug, Clone, Copy)]
enum OpenerPolicy {
    /// `same-origin-allow-popups`: a page opened by another site's window is cut off from it
    /// (no `window.opener` either way), while the bank window this page opens keeps its link
    /// back, which the hand-off needs. An embedded frame is not a top-level page, so browsers
    /// apply the policy only where the page runs top level: a redirection's page, a link
    /// opened on its own.
    AllowPopups,
    /// `unsafe-none`: the bank window's own pages (the hop to the bank, the way back). Any
    /// other policy there would put the window in a new browsing context group and sever it
    /// from the frame that opened it, and the return page hands the frame its completion code
    /// through `window.opener`. They hold nothing another site's window could reach: the
    /// return page posts its code to Aisle's own origin only.
    KeepOpener,
}

impl OpenerPolicy {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::AllowPopups => "same-origin-allow-popups",
            Self::KeepOpener => "unsafe-none",
        })
    }
}

/// Renders the template `name` as a page that only our own scripts and styles run on,
/// embeddable by `frame_ancestors`.
fn page(
    status: StatusCode,
    name: &str,
    context: minijinja::Value,
    frame_ancestors: &str,
    opener: OpenerPolicy,
) -> Response {
    match templates::render(name, context) {
        Ok(body) => html(status, body, frame_ancestors, opener),
        Err(e) => {
            tracing::error!(template = name, error = %e, "a sign-in page does not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn html(status: StatusCode, body: String, frame_ancestors: &str, opener: OpenerPolicy) -> Response {
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
    protect_navigation(headers, opener);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// What every page and hop of a sign-in carries.
fn protect_navigation(headers: &mut HeaderMap, opener: OpenerPolicy) {
    // The sign-in id is in the URL: never hand it to the bank as a referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("cross-origin-opener-policy", opener.header());
}

/// A page that explains why there is no sign-in to show. It holds nothing secret, so any page
/// may frame it: the developer embedding the widget wrongly sees why.
fn problem_page(status: StatusCode, message: &str) -> Response {
    let context = context! { title => "Bank sign-in unavailable", message => message };
    page(
        status,
        "signin/problem.html",
        context,
        "*",
        OpenerPolicy::AllowPopups,
    )
}

/// Where a bank link or the bank's way back lands in a browser that did not begin the attempt.
fn other_browser_page() -> Response {
    problem_page(
        StatusCode::FORBIDDEN,
        "This bank sign-in was started in another browser, so it cannot be finished here. \
         Please start again on the site that sent you.",
    )
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

/// The widget's entry: checks the embedding client and its origin, and shows the frame, which
/// opens the sign-in by POSTing the same parameters back. A GET writes nothing and calls no
/// bank, so an `<img>` or a prefetch of this URL costs nothing.
async fn widget_entry(State(state): State<AppState>, Query(query): Query<WidgetQuery>) -> Response {
    match widget_signin(&state, query).await {
        Ok(new) => page(
            StatusCode::OK,
            "signin/frame.html",
            context! {},
            new.parent_origin.as_deref().unwrap_or("'none'"),
            OpenerPolicy::AllowPopups,
        ),
        Err(Refusal::Bad(message)) => problem_page(StatusCode::BAD_REQUEST, message),
        Err(Refusal::Database(e)) => database_problem(&e),
    }
}

#[derive(Debug, serde::Serialize)]
struct Opened {
    id: Uuid,
}

/// Opens a widget sign-in (and begins a preselected bank) for the frame at `/signin/widget`:
/// only from Aisle's own page, which only the client's registered origin may frame.
async fn open_widget_signin(
    State(state): State<AppState>,
    CallerIp(ip): CallerIp,
    from: FromOurPages,
    AppJson(query): AppJson<WidgetQuery>,
) -> Result<Response, ApiError> {
    if !from.origin_sent {
        return Err(ApiError::ForbiddenOrigin);
    }
    state.throttle.check(ip).map_err(ApiError::RateLimited)?;
    let new = match widget_signin(&state, query).await {
        Ok(new) => new,
        Err(Refusal::Bad(message)) => return Err(ApiError::InvalidParameter(message.into())),
        Err(Refusal::Database(e)) => return Err(e.into()),
    };
    let signin = state.flow().start(&new, ip).await?;
    let mut response = (StatusCode::CREATED, Json(Opened { id: signin.id })).into_response();
    // The id is the sign-in's capability.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
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

/// The sign-in's page: the frame inside the widget, or a redirection's top-level page. It only
/// renders: a redirection's preselected bank is begun by the page's POST to `/arrive`.
async fn frame(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match find(&state, &id).await {
        Ok(Some(signin)) => page(
            StatusCode::OK,
            "signin/frame.html",
            context! {},
            &frame_ancestors(&signin),
            OpenerPolicy::AllowPopups,
        ),
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

/// Sends the owner to the bank's SCA page of the current step, in the browser this bank attempt
/// is bound to. The widget's attempt is bound here, to the first browser that takes it (its
/// bank window: the frame itself is third-party and keeps no cookie of ours); a
/// redirection's was bound when its page began it.
async fn go_to_bank(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let signin = match find(&state, &id).await {
        Ok(Some(signin)) => signin,
        Ok(None) => return problem_page(StatusCode::NOT_FOUND, "This sign-in does not exist."),
        Err(e) => return database_problem(&e),
    };
    let (Status::InProgress, Some(Step::Redirect { url }), Some(token)) = (
        signin.status,
        signin.step.as_deref(),
        signin.callback_token.as_deref(),
    ) else {
        return Redirect::to(&format!("/signin/s/{}", signin.id)).into_response();
    };
    if signin.expired(Utc::now()) {
        return Redirect::to(&format!("/signin/s/{}", signin.id)).into_response();
    }
    let policy = CookiePolicy::for_public_url(&state.config.public_url);
    let cookie = match signins::browser_hash(&state.pool, signin.id).await {
        Err(e) => return database_problem(&e),
        Ok(Some(bound)) if policy.presented(&headers, &bound) => None,
        Ok(Some(_)) => return other_browser_page(),
        Ok(None) => {
            let key = BrowserKey::generate();
            match signins::bind_browser(&state.pool, signin.id, token, &key.hash(), Bind::First)
                .await
            {
                Ok(true) => policy.set_cookie(&key, signin.opened.expires_at - Utc::now()),
                // Another browser took it in between, or the attempt moved on.
                Ok(false) => return other_browser_page(),
                Err(e) => return database_problem(&e),
            }
        }
    };
    let mut response = Redirect::to(url).into_response();
    let headers = response.headers_mut();
    protect_navigation(headers, OpenerPolicy::KeepOpener);
    if let Some(cookie) = cookie {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// The bank sends the owner back here; the token in the path names the bank attempt, and only
/// the browser bound to that attempt may finish it. In any other browser the attempt fails.
async fn bank_callback(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let signin = match signins::find_by_callback_token(&state.pool, &token).await {
        Ok(Some(signin)) => signin,
        Ok(None) => return no_longer_valid(),
        Err(e) => return database_problem(&e),
    };
    let policy = CookiePolicy::for_public_url(&state.config.public_url);
    match signins::browser_hash(&state.pool, signin.id).await {
        Ok(Some(bound)) if policy.presented(&headers, &bound) => {}
        Ok(_) => {
            return match state.flow().refuse_callback(&token).await {
                Err(FlowError::Database(e)) => database_problem(&e),
                // Failed now, or ended before: either way nothing is finished here.
                _ => other_browser_page(),
            };
        }
        Err(e) => return database_problem(&e),
    }
    match state.flow().bank_callback(&token, params).await {
        Ok(answered) => after_bank(&answered.signin, answered.completion.as_ref()),
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
            Ok(Some(signin)) => after_bank(&signin, None),
            Ok(None) => no_longer_valid(),
            Err(e) => database_problem(&e),
        },
    }
}

fn no_longer_valid() -> Response {
    problem_page(
        StatusCode::NOT_FOUND,
        "This sign-in link is no longer valid. Please start again from the site.",
    )
}

/// Where the owner goes once the bank sent them back: the widget's bank window shows the
/// return page, which hands the frame its completion code and closes; a redirection continues
/// on its page or returns to the client.
fn after_bank(signin: &SignIn, completion: Option<&CompletionCode>) -> Response {
    let ended = matches!(signin.status, Status::Succeeded | Status::Failed);
    match signin.opened.channel {
        Channel::Widget => page(
            StatusCode::OK,
            "signin/done.html",
            context! { completion => completion.map(CompletionCode::expose) },
            "'none'",
            OpenerPolicy::KeepOpener,
        ),
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
