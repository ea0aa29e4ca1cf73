//! The OpenAPI document, generated from the handlers and types themselves, and `/docs`, which
//! renders it for people with a copy of Redoc that Aisle serves itself (no CDN).
//!
//! The error answers are added here, in one place, from what the server does: every
//! authenticated operation can answer 401 and 403, every operation with a body 400, 413 and
//! 415, every operation 500 and 503; [`OPERATION_PROBLEMS`] adds each operation's own. Each
//! is `application/problem+json`, its `code` restricted to the codes that status can carry.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, header},
    response::{Html, IntoResponse},
    routing::get,
};
use serde_json::json;
use utoipa::{
    Modify, OpenApi, PartialSchema,
    openapi::{
        Content, OpenApi as Document, RefOr, Response, Schema,
        header::Header,
        link::LinkBuilder,
        path::{Operation, ParameterIn},
        schema::{AllOfBuilder, ObjectBuilder, Type},
        security::{
            ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
        },
        tag::TagBuilder,
    },
};

use super::error::{Problem, ProblemCode};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Aisle",
        description = "Single-access account-information imports: a person signs in to their \
            bank once, Aisle imports their accounts, balances, transactions and cards in the \
            background, and the client's backend polls the command for the result.\n\n\
            Every error answer is `application/problem+json` with a stable `code`."
    ),
    paths(
        super::commands::default_import,
        super::commands::get_command,
        super::pages::account_transactions,
        super::pages::card_transactions,
        super::exports::export_transactions,
        super::owners::get_owner,
        super::sandbox::create_session,
        super::redirections::create_redirection,
        super::redirections::get_redirection,
        super::banks::list_banks,
        super::health::alive,
        super::health::ready,
        document,
        docs,
        super::webhooks::create_webhook,
        super::webhooks::list_webhooks,
        super::webhooks::get_webhook,
        super::webhooks::delete_webhook,
        super::webhooks::list_deliveries,
        super::webhooks::redeliver,
    ),
    components(schemas(Problem, ProblemCode)),
    modifiers(&Contract)
)]
pub struct ApiDoc;

/// A status and the codes an answer with it can carry.
type Problems = (u16, &'static [ProblemCode]);

/// The error answers each operation has besides those every operation of its kind has.
const OPERATION_PROBLEMS: &[(&str, &[Problems])] = {
    use ProblemCode as C;
    &[
        (
            "default_import",
            &[
                (400, &[C::InvalidSessionIdSignature, C::InvalidSince]),
                (404, &[C::InvalidSessionId]),
                (
                    409,
                    &[C::DefaultImportAlreadyExecuted, C::IdempotencyKeyReused],
                ),
                (410, &[C::SessionExpired]),
            ],
        ),
        ("get_command", &[(404, &[C::InvalidCommandId])]),
        (
            "get_owner",
            &[(404, &[C::InvalidOwnerExternalId, C::NotFound])],
        ),
        (
            "create_sandbox_session",
            &[(
                422,
                &[
                    C::InvalidCredentials,
                    C::AccessBlocked,
                    C::ScaRequired,
                    C::SessionExpired,
                    C::BankUnavailable,
                    C::BankRateLimited,
                    C::BankProtocolError,
                    C::Internal,
                ],
            )],
        ),
        ("create_redirection", &[(400, &[C::InvalidRedirectUri])]),
        ("get_redirection", &[(404, &[C::InvalidRedirectionId])]),
        ("create_webhook", &[(409, &[C::TooManyWebhooks])]),
        (
            "account_transactions",
            &[(404, &[C::InvalidCommandId, C::NotFound])],
        ),
        (
            "card_transactions",
            &[(404, &[C::InvalidCommandId, C::NotFound])],
        ),
        ("get_webhook", &[(404, &[C::InvalidWebhookId])]),
        ("delete_webhook", &[(404, &[C::InvalidWebhookId])]),
        ("list_deliveries", &[(404, &[C::InvalidWebhookId])]),
        (
            "redeliver",
            &[
                (404, &[C::InvalidWebhookId, C::InvalidEventId]),
                (409, &[C::WebhookDisabled]),
            ],
        ),
    ]
};

/// The security schemes, the tags, the error answers and the links between operations.
struct Contract;

impl Modify for Contract {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("API key")
                    .description(Some(
                        "`Authorization: Bearer <api key>` (the scheme in any case)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "The API key in its own header, for clients that cannot set `Authorization`",
            ))),
        );
        // Either scheme will do; the public operations override this with an empty list.
        openapi.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("apiKey", Vec::<String>::new()),
        ]);
        openapi.tags = Some(
            [
                (
                    "Sign-in",
                    "Sign an owner in at their bank without the widget.",
                ),
                (
                    "Sandbox",
                    "Headless sign-in at simulated banks, for tests and demos.",
                ),
                (
                    "Commands",
                    "Start a Default Import and poll it for the result.",
                ),
                (
                    "Owners",
                    "Everything imported for one owner, across banks and imports.",
                ),
                ("Banks", "The coverage catalog."),
                (
                    "Exports",
                    "Everything imported in a period, streamed as NDJSON or CSV.",
                ),
                (
                    "Webhooks",
                    "Endpoints told when an import or a sign-in ends, signed (Standard Webhooks).",
                ),
                ("Service", "Health, readiness and this document."),
            ]
            .into_iter()
            .map(|(name, description)| {
                TagBuilder::new()
                    .name(name)
                    .description(Some(description))
                    .build()
            })
            .collect(),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
            ] {
                if let Some(operation) = operation.as_mut() {
                    add_problems(operation);
                    add_links(operation);
                }
            }
        }
    }
}

fn add_problems(operation: &mut Operation) {
    use ProblemCode as C;
    let id = operation.operation_id.clone().unwrap_or_default();
    // An operation with its own `security` list is public: `security(())` leaves one empty
    // requirement.
    let authenticated = operation.security.is_none();
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_input = operation.request_body.is_some()
        || parameters
            .iter()
            .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Header));
    let mut problems: BTreeMap<u16, Vec<ProblemCode>> = BTreeMap::new();
    let mut add = |status: u16, codes: &[ProblemCode]| {
        let entry = problems.entry(status).or_default();
        for code in codes {
            if !entry.contains(code) {
                entry.push(*code);
            }
        }
    };
    if has_input {
        add(400, &[C::InvalidParameter]);
    }
    if authenticated {
        add(401, &[C::Unauthorized]);
        add(403, &[C::IpNotAllowed]);
    }
    if operation.request_body.is_some() {
        add(413, &[C::PayloadTooLarge]);
        add(415, &[C::UnsupportedMediaType]);
    }
    add(500, &[C::Internal]);
    add(503, &[C::ServiceUnavailable]);
    for (status, codes) in OPERATION_PROBLEMS
        .iter()
        .filter(|(operation, _)| *operation == id)
        .flat_map(|(_, responses)| responses.iter())
    {
        add(*status, codes);
    }
    for (status, codes) in problems {
        operation
            .responses
            .responses
            .insert(status.to_string(), problem_response(status, &codes).into());
    }
}

fn problem_response(status: u16, codes: &[ProblemCode]) -> Response {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let names: Vec<String> = codes.iter().map(|code| code_name(*code)).collect();
    let schema: RefOr<Schema> = AllOfBuilder::new()
        .item(Problem::schema())
        .item(
            ObjectBuilder::new().property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(names.clone())),
            ),
        )
        .into();
    let example = json!({
        "code": names[0],
        "title": reason,
        "status": status,
        "detail": "a sentence for the developer",
    });
    let mut response = Response::builder()
        .description(format!("{reason}: {}", names.join(", ")))
        .content(
            "application/problem+json",
            Content::builder()
                .schema(Some(schema))
                .example(Some(example))
                .build(),
        )
        .build();
    if matches!(status, 429 | 503) {
        response.headers.insert(
            "Retry-After".into(),
            Header::builder()
                .schema(u32::schema())
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    response
}

fn code_name(code: ProblemCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{code:?}"),
    }
}

/// Links let a client (or a stateful tester) chain sign-in → import → poll.
fn add_links(operation: &mut Operation) {
    let import_with_session = || {
        LinkBuilder::new()
            .operation_id("default_import")
            .request_body(Some(json!({
                "sessionId": "{$response.body#/sessionId}",
                "sessionIdSignature": "{$response.body#/sessionIdSignature}",
            })))
            .description("Import with the session this sign-in issued")
            .build()
    };
    let (status, name, link) = match operation.operation_id.as_deref() {
        Some("create_sandbox_session") => ("201", "DefaultImport", import_with_session()),
        Some("get_redirection") => ("200", "DefaultImport", import_with_session()),
        Some("create_redirection") => (
            "201",
            "GetRedirection",
            LinkBuilder::new()
                .operation_id("get_redirection")
                .parameter("redirection_id", "$response.body#/redirectionId")
                .description("Read the redirection once the owner is back")
                .build(),
        ),
        Some("default_import") => (
            "202",
            "GetCommand",
            LinkBuilder::new()
                .operation_id("get_command")
                .parameter("command_id", "$response.body#/commandId")
                .description("Poll the command until it ends")
                .build(),
        ),
        _ => return,
    };
    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) {
        response.links.insert(name.into(), link.into());
    }
}

/// The redoc standalone bundle from the npm registry (see `assets/README.md`).
const REDOC: &str = include_str!("assets/redoc.standalone.js");

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Aisle API</title>
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="docs/redoc.standalone.js"></script>
</body>
</html>
"#;

/// Only Aisle's own assets: the page works offline and loads nothing from elsewhere.
/// Redoc styles with inline `<style>` and runs its search in a `blob:` worker.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; \
    frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(document))
        .route("/docs", get(docs))
        .route("/docs/redoc.standalone.js", get(redoc))
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "Service",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object)),
)]
async fn document(State(state): State<AppState>) -> Json<serde_json::Value> {
    let mut document = ApiDoc::openapi();
    // The ids this deployment's registry holds: a bank id is valid only if it is one of them.
    if let Some(RefOr::T(Schema::Object(bank_id))) = document
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut("BankId"))
    {
        bank_id.enum_values = Some(
            state
                .registry
                .banks()
                .map(|bank| json!(bank.entry.id))
                .collect(),
        );
    }
    let mut document = serde_json::to_value(document).unwrap_or_default();
    camel_case_links(&mut document);
    Json(document)
}

/// utoipa 5 writes a Link object's fields as `operation_id` and `request_body`; the OpenAPI
/// specification spells them `operationId` and `requestBody`, and tools read only those.
fn camel_case_links(document: &mut serde_json::Value) {
    let responses = document
        .get_mut("paths")
        .and_then(|paths| paths.as_object_mut())
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        let links = response
            .get_mut("links")
            .and_then(|links| links.as_object_mut());
        for link in links.into_iter().flat_map(|links| links.values_mut()) {
            let Some(link) = link.as_object_mut() else {
                continue;
            };
            for (snake, camel) in [
                ("operation_id", "operationId"),
                ("request_body", "requestBody"),
            ] {
                if let Some(value) = link.remove(snake) {
                    link.insert(camel.into(), value);
                }
            }
        }
    }
}

/// This document, rendered for people.
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "docs",
    tag = "Service",
    security(()),
    responses((status = 200, description = "An HTML page rendering the document.", content_type = "text/html", body = String)),
)]
async fn docs() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        )],
        Html(DOCS_PAGE),
    )
}

async fn redoc() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        REDOC,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_named_in_the_problem_table_exists() {
        let document = ApiDoc::openapi();
        let ids: Vec<String> = document
            .paths
            .paths
            .values()
            .flat_map(|item| [&item.get, &item.post, &item.delete, &item.put])
            .filter_map(|operation| operation.as_ref()?.operation_id.clone())
            .collect();
        for (id, _) in OPERATION_PROBLEMS {
            assert!(ids.iter().any(|known| known == id), "{id}");
        }
    }
}
