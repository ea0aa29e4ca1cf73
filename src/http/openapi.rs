//! The OpenAPI document, generated from the handlers and types themselves.

use axum::{Json, Router, routing::get};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Aisle", description = "Single-access account-information imports"),
    paths(
        super::commands::default_import,
        super::commands::get_command,
        super::pages::account_transactions,
        super::pages::card_transactions,
        super::exports::export_transactions,
        super::sandbox::create_session,
        super::redirections::create_redirection,
        super::redirections::get_redirection,
        super::banks::list_banks,
    ),
    modifiers(&ApiKeyAuth)
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
