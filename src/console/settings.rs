//! The client's settings and staff: API keys, the IP allowlist, widget origins and redirect
//! URIs, auto import, retention, webhooks, and the users who may sign in. Viewers see them;
//! technicians manage keys, addresses, sign-in places and webhooks; admins everything.
//!
//! A change answers with a redirection to the page and a fixed notice, so reloading never
//! sends it twice; a secret made by a change (a key, a webhook's signing secret, a setup link)
//! is rendered once, in the answer itself, and never again.

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    auth::{self, InviteError, Staff},
    owners::when,
    views::{ConsoleError, context, render},
};
use crate::{
    model::{input::AutoImportMonths, staff::Role},
    signin::origins,
    state::AppState,
    store::{clients, console, staff},
    webhooks::{
        EventType,
        endpoints::{self, EndpointError, WebhookUrl},
    },
};

/// The notices a change may leave; the page shows the text, the URL carries only the name.
const NOTICES: &[(&str, &str)] = &[
    ("key-named", "The key's name is saved."),
    (
        "key-revoked",
        "The key is revoked: it stops working within a minute.",
    ),
    ("ips", "The IP allowlist is saved."),
    ("places", "The widget origins and redirect URIs are saved."),
    ("auto-import", "Auto import is saved."),
    ("retention", "Retention is saved."),
    ("webhook-deleted", "The webhook is deleted."),
    ("role", "The role is changed."),
    ("removed", "The user is removed."),
];

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    done: Option<String>,
}

fn notice(query: &NoticeQuery) -> Option<&'static str> {
    let done = query.done.as_deref()?;
    NOTICES
        .iter()
        .find(|(name, _)| *name == done)
        .map(|(_, text)| *text)
}

fn done(to: &str, what: &str) -> Response {
    Redirect::to(&format!("{to}?done={what}")).into_response()
}

/// The fields of a form, repeated names included (checkbox lists).
fn fields(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn lines(text: Option<&str>) -> impl Iterator<Item = &str> {
    text.unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
}

#[derive(Serialize)]
struct KeyLine {
    id: String,
    name: Option<String>,
    created: String,
    revoked: Option<String>,
}

#[derive(Serialize)]
struct WebhookLine {
    id: String,
    url: String,
    events: Vec<&'static str>,
    disabled: Option<String>,
}

#[derive(Serialize, Default)]
struct Shown {
    api_key: Option<String>,
    webhook_secret: Option<String>,
    error: Option<String>,
}

async fn settings_page(
    state: &AppState,
    staff: &Staff,
    notice: Option<&str>,
    shown: Shown,
) -> Result<Response, ConsoleError> {
    let settings = console::settings(&state.pool, staff.client_id)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let keys: Vec<KeyLine> = console::api_keys(&state.pool, staff.client_id)
        .await?
        .into_iter()
        .map(|k| KeyLine {
            id: k.id.to_string(),
            name: k.name,
            created: when(k.created_at),
            revoked: k.revoked_at.map(when),
        })
        .collect();
    let webhooks: Vec<WebhookLine> =
        crate::store::webhooks::endpoints_for_client(&state.pool, staff.client_id)
            .await?
            .into_iter()
            .map(|w| WebhookLine {
                id: w.id.to_string(),
                url: w.url,
                events: w.events.iter().map(|e| e.as_str()).collect(),
                disabled: w
                    .disabled_reason
                    .map(|reason| format!("{reason:?} {}", w.disabled_detail.unwrap_or_default())),
            })
            .collect();
    let (retention_value, retention_unit) = retention_in_units(settings.retention_seconds);
    let status = match shown.error {
        Some(_) => axum::http::StatusCode::BAD_REQUEST,
        None => axum::http::StatusCode::OK,
    };
    let mut response = render(
        "settings.html",
        context! {
            staff, section => "settings", notice, shown, keys, webhooks,
            may_technician => staff.may(Role::Technician), may_admin => staff.may(Role::Admin),
            allowed_ips => settings.allowed_ips.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
            widget_origins => settings.widget_origins.join("\n"),
            redirect_uris => settings.redirect_uris.join("\n"),
            auto_import_months => settings.auto_import_months,
            retention_value, retention_unit,
            events => EventType::ALL.map(EventType::as_str),
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

/// The retention as the largest whole unit: (value, `days` | `hours` | `minutes`).
fn retention_in_units(seconds: i32) -> (i32, &'static str) {
    if seconds % 86_400 == 0 {
        (seconds / 86_400, "days")
    } else if seconds % 3_600 == 0 {
        (seconds / 3_600, "hours")
    } else {
        (seconds / 60, "minutes")
    }
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, ConsoleError> {
    settings_page(&state, &staff, notice(&query), Shown::default()).await
}

/// Issues an API key with a name and shows it, once.
pub async fn create_key(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Technician)?;
    let fields = fields(&body);
    let name = key_name(field(&fields, "name"))?;
    let (key_id, api_key) = clients::issue_api_key(&state.pool, staff.client_id)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    console::name_api_key(&state.pool, staff.client_id, key_id, &name).await?;
    tracing::info!(client = %staff.client_id, key = %key_id, by = %staff.user_id, "an API key was issued in the console");
    settings_page(
        &state,
        &staff,
        None,
        Shown {
            api_key: Some(api_key),
            ..Shown::default()
        },
    )
    .await
}

fn key_name(raw: Option<&str>) -> Result<String, ConsoleError> {
    let name = raw.unwrap_or_default().trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ConsoleError::BadInput(
            "A key's name is 1 to 100 characters.".into(),
        ));
    }
    Ok(name.to_string())
}

fn id(raw: &str) -> Result<Uuid, ConsoleError> {
    raw.parse().map_err(|_| ConsoleError::NotFound)
}

pub async fn name_key(
    State(state): State<AppState>,
    staff: Staff,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Technician)?;
    let name = key_name(field(&fields(&body), "name"))?;
    if !console::name_api_key(&state.pool, staff.client_id, id(&key)?, &name).await? {
        return Err(ConsoleError::NotFound);
    }
    Ok(done("/console/settings", "key-named"))
}

pub async fn revoke_key(
    State(state): State<AppState>,
    staff: Staff,
    Path(key): Path<String>,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Technician)?;
    let key = id(&key)?;
    if !clients::revoke_api_key(&state.pool, staff.client_id, key).await? {
        return Err(ConsoleError::NotFound);
    }
    tracing::info!(client = %staff.client_id, %key, by = %staff.user_id, "an API key was revoked in the console");
    Ok(done("/console/settings", "key-revoked"))
}

/// Replaces the IP allowlist: one address or CIDR range a line; none allows every address.
pub async fn set_ips(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Technician)?;
    let fields = fields(&body);
    let mut ranges = Vec::new();
    for line in lines(field(&fields, "ips")) {
        let range = line
            .parse::<IpNet>()
            .or_else(|_| line.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                ConsoleError::BadInput(format!("{line}: not an address or a CIDR range"))
            })?;
        ranges.push(range);
    }
    console::set_allowed_ips(&state.pool, staff.client_id, &ranges).await?;
    Ok(done("/console/settings", "ips"))
}

/// Replaces the widget origins and redirect URIs, one a line.
pub async fn set_signin_places(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Technician)?;
    let fields = fields(&body);
    let bad = |e: origins::OriginError| ConsoleError::BadInput(e.to_string());
    let widget_origins = lines(field(&fields, "widget_origins"))
        .map(origins::widget_origin)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let redirect_uris = lines(field(&fields, "redirect_uris"))
        .map(origins::redirect_uri)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    clients::register_signin_places(
        &state.pool,
        staff.client_id,
        &widget_origins,
        &redirect_uris,
    )
    .await?;
    Ok(done("/console/settings", "places"))
}

/// Turns auto import on (with 1 to 120 months of history) or off.
pub async fn set_auto_import(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Admin)?;
    let fields = fields(&body);
    let months = match field(&fields, "enabled") {
        Some("on") => {
            let months = field(&fields, "months")
                .and_then(|m| m.trim().parse::<i64>().ok())
                .and_then(|m| AutoImportMonths::new(m).ok())
                .ok_or_else(|| {
                    ConsoleError::BadInput("Auto import reads 1 to 120 months of history.".into())
                })?;
            Some(months)
        }
        _ => None,
    };
    clients::set_auto_import(&state.pool, staff.client_id, months).await?;
    tracing::info!(client = %staff.client_id, ?months, by = %staff.user_id, "auto import was set in the console");
    Ok(done("/console/settings", "auto-import"))
}

/// Sets how long imported data is kept: 1 minute to 366 days.
pub async fn set_retention(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Admin)?;
    let fields = fields(&body);
    let unit: i64 = match field(&fields, "unit") {
        Some("minutes") => 60,
        Some("hours") => 3_600,
        Some("days") => 86_400,
        _ => {
            return Err(ConsoleError::BadInput(
                "unit: minutes, hours or days".into(),
            ));
        }
    };
    let seconds = field(&fields, "value")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|v| v.checked_mul(unit))
        .filter(|s| (60..=366 * 86_400).contains(s))
        .and_then(|s| i32::try_from(s).ok())
        .ok_or_else(|| ConsoleError::BadInput("Keep data 1 minute to 366 days.".into()))?;
    console::set_retention(&state.pool, staff.client_id, seconds).await?;
    Ok(done("/console/settings", "retention"))
}

/// Registers a webhook endpoint and shows its signing secret, once.
pub async fn create_webhook(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Technician)?;
    let fields = fields(&body);
    let chosen: Vec<EventType> = fields
        .iter()
        .filter(|(name, _)| name == "events")
        .filter_map(|(_, value)| EventType::ALL.into_iter().find(|e| e.as_str() == value))
        .collect();
    let events = if chosen.is_empty() {
        EventType::ALL.to_vec()
    } else {
        chosen
    };
    let registered = match WebhookUrl::parse(
        field(&fields, "url").unwrap_or_default(),
        state.config.webhooks.allow_private,
    ) {
        Ok(url) => {
            endpoints::register(&state.pool, &state.sealer, staff.client_id, &url, &events).await
        }
        Err(e) => Err(e),
    };
    let shown = match registered {
        Ok(registered) => Shown {
            webhook_secret: Some(registered.secret.expose()),
            ..Shown::default()
        },
        Err(EndpointError::Database(e)) => return Err(e.into()),
        Err(e) => Shown {
            error: Some(e.to_string()),
            ..Shown::default()
        },
    };
    settings_page(&state, &staff, None, shown).await
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    staff: Staff,
    Path(webhook): Path<String>,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Technician)?;
    if !crate::store::webhooks::delete_endpoint(&state.pool, staff.client_id, id(&webhook)?).await?
    {
        return Err(ConsoleError::NotFound);
    }
    Ok(done("/console/settings", "webhook-deleted"))
}

#[derive(Serialize)]
struct UserLine {
    id: String,
    login: String,
    role: Role,
    ready: bool,
    created: String,
    me: bool,
}

async fn users_page(
    state: &AppState,
    staff: &Staff,
    notice: Option<&str>,
    setup_link: Option<(String, String)>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let users: Vec<UserLine> = staff::users_of_client(&state.pool, staff.client_id)
        .await?
        .into_iter()
        .map(|u| UserLine {
            me: u.id == staff.user_id,
            id: u.id.to_string(),
            login: u.login,
            role: u.role,
            ready: u.password_hash.is_some(),
            created: when(u.created_at),
        })
        .collect();
    let status = match error {
        Some(_) => axum::http::StatusCode::BAD_REQUEST,
        None => axum::http::StatusCode::OK,
    };
    let mut response = render(
        "users.html",
        context! {
            staff, section => "users", users, notice, error, setup_link,
            roles => Role::ALL.map(Role::as_str),
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

pub async fn users(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Admin)?;
    users_page(&state, &staff, notice(&query), None, None).await
}

/// Invites a user and shows their one-time setup link.
pub async fn invite(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Admin)?;
    let fields = fields(&body);
    let role = field(&fields, "role")
        .and_then(Role::parse)
        .ok_or_else(|| ConsoleError::BadInput("role: viewer, technician or admin".into()))?;
    let invited = auth::invite(
        &state.pool,
        &state.sealer,
        &state.config.public_url,
        staff.client_id,
        field(&fields, "login").unwrap_or_default(),
        role,
    )
    .await;
    match invited {
        Ok(invitation) => {
            tracing::info!(client = %staff.client_id, user = %invitation.user_id, by = %staff.user_id, "a console user was invited");
            users_page(
                &state,
                &staff,
                None,
                Some((invitation.login, invitation.setup_link)),
                None,
            )
            .await
        }
        Err(InviteError::Database(e)) => Err(e.into()),
        Err(e) => users_page(&state, &staff, None, None, Some(e.to_string())).await,
    }
}

pub async fn set_role(
    State(state): State<AppState>,
    staff: Staff,
    Path(user): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Admin)?;
    let role = field(&fields(&body), "role")
        .and_then(Role::parse)
        .ok_or_else(|| ConsoleError::BadInput("role: viewer, technician or admin".into()))?;
    let user = own_user(&state, &staff, &user).await?;
    if !staff::set_role(&state.pool, staff.client_id, user, role).await? {
        return users_page(
            &state,
            &staff,
            None,
            None,
            Some("A team keeps at least one admin.".into()),
        )
        .await;
    }
    Ok(done("/console/users", "role"))
}

pub async fn remove_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(user): Path<String>,
) -> Result<Response, ConsoleError> {
    staff.require(Role::Admin)?;
    let user = own_user(&state, &staff, &user).await?;
    if !staff::remove(&state.pool, staff.client_id, user).await? {
        return users_page(
            &state,
            &staff,
            None,
            None,
            Some("A team keeps at least one admin.".into()),
        )
        .await;
    }
    Ok(done("/console/users", "removed"))
}

/// The id of a user of the member's own client; another client's is not found.
async fn own_user(state: &AppState, staff: &Staff, raw: &str) -> Result<Uuid, ConsoleError> {
    let user = id(raw)?;
    let users = staff::users_of_client(&state.pool, staff.client_id).await?;
    if !users.iter().any(|u| u.id == user) {
        return Err(ConsoleError::NotFound);
    }
    Ok(user)
}
