//! The console's templates (minijinja, HTML auto-escaped, embedded at build time) and its
//! error pages.

use std::sync::OnceLock;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use minijinja::Environment;
use serde::Serialize;

/// A template context: `name` (a variable of that name) or `name => expression`, each
/// serialised. A value that cannot be serialised renders as nothing rather than failing.
macro_rules! context {
    ($($key:ident $(=> $value:expr)?),* $(,)?) => {{
        let mut map = serde_json::Map::new();
        $(map.insert(
            stringify!($key).to_string(),
            serde_json::to_value(context!(@value $key $(=> $value)?)).unwrap_or_default(),
        );)*
        map
    }};
    (@value $key:ident) => { &$key };
    (@value $key:ident => $value:expr) => { &$value };
}
pub(crate) use context;

/// Every template, by name; `.html` names are auto-escaped.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../templates/console/base.html"),
    ),
    (
        "login.html",
        include_str!("../../templates/console/login.html"),
    ),
    (
        "setup.html",
        include_str!("../../templates/console/setup.html"),
    ),
    (
        "owners.html",
        include_str!("../../templates/console/owners.html"),
    ),
    (
        "owner.html",
        include_str!("../../templates/console/owner.html"),
    ),
    (
        "imports.html",
        include_str!("../../templates/console/imports.html"),
    ),
    (
        "import_rows.html",
        include_str!("../../templates/console/import_rows.html"),
    ),
    (
        "usage.html",
        include_str!("../../templates/console/usage.html"),
    ),
    (
        "settings.html",
        include_str!("../../templates/console/settings.html"),
    ),
    (
        "users.html",
        include_str!("../../templates/console/users.html"),
    ),
    (
        "error.html",
        include_str!("../../templates/console/error.html"),
    ),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // The templates are part of the build: a broken one fails the tests at once.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a console template does not parse");
            }
        }
        env
    })
}

/// Renders `template` with `context` as an HTML page.
pub fn render(template: &str, context: impl Serialize) -> Result<Response, ConsoleError> {
    let html = environment()
        .get_template(template)
        .and_then(|t| t.render(minijinja::value::Serde(&context)))
        .map_err(|e| ConsoleError::Template(e.to_string()))?;
    Ok(Html(html).into_response())
}

/// Why a console request ends without its page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: go to the sign-in page.
    #[error("sign-in needed")]
    SignInNeeded,
    /// The role may not do this.
    #[error("your role may not do this")]
    Forbidden,
    /// Unknown, or another client's: never said which.
    #[error("not found")]
    NotFound,
    /// A form whose CSRF token is missing or wrong.
    #[error("the form expired")]
    FormExpired,
    #[error("{0}")]
    BadInput(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("template: {0}")]
    Template(String),
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match &self {
            Self::SignInNeeded => {
                let mut response = Redirect::to("/console/login").into_response();
                // htmx follows a redirect inside a fragment; this sends the whole page there.
                response
                    .headers_mut()
                    .insert("HX-Redirect", HeaderValue::from_static("/console/login"));
                return response;
            }
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your role does not allow this. An admin of your team can change roles.".into(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it belongs to someone else.".into(),
            ),
            Self::FormExpired => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "Go back, reload the page and send the form again.".into(),
            ),
            Self::BadInput(why) => (
                StatusCode::BAD_REQUEST,
                "Please check the form",
                why.clone(),
            ),
            Self::Database(e) if crate::store::is_unavailable(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The database is out of reach; try again in a moment.".into(),
            ),
            Self::Database(_) | Self::Template(_) | Self::Internal(_) => {
                tracing::error!(error = %self, "a console page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Aisle failed to show this page. The details are in its logs.".into(),
                )
            }
        };
        let page = environment()
            .get_template("error.html")
            .and_then(|t| {
                t.render(minijinja::value::Serde(
                    context! { title, detail, status => status.as_u16() },
                ))
            })
            .unwrap_or_else(|_| String::from("<!doctype html><title>Error</title><p>Error</p>"));
        let mut response = (status, Html(page)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
