//! What the client's imports are doing: a live list of recent commands, and usage charts.

use axum::{extract::State, response::Response};
use chrono::{Duration, Utc};
use serde::Serialize;

use super::{
    auth::Staff,
    charts::{self, Bar, Frame},
    explain,
    owners::when,
    views::{ConsoleError, context, render},
};
use crate::{
    model::command::{CommandState, Stage},
    state::AppState,
    store::console::{self, CommandRow},
};

/// Commands the live list shows.
const RECENT: i64 = 50;
/// Days the usage charts cover.
const USAGE_DAYS: i32 = 30;

/// A command as the console lists it.
#[derive(Serialize)]
pub struct CommandLine {
    id: String,
    owner: String,
    owner_path: String,
    bank: String,
    state: &'static str,
    stage: Stage,
    /// Percent of history windows fetched, while there is a count.
    percent: Option<u32>,
    since: String,
    created: String,
    finished: Option<String>,
    error_code: Option<&'static str>,
    error_explanation: Option<&'static str>,
}

impl From<&CommandRow> for CommandLine {
    fn from(row: &CommandRow) -> Self {
        let progress = &row.progress.0;
        let percent = (progress.windows_total > 0)
            .then(|| progress.windows_done.saturating_mul(100) / progress.windows_total);
        CommandLine {
            id: row.id.to_string(),
            owner: row.owner_external_id.clone(),
            owner_path: super::owners::path_segment(&row.owner_external_id),
            bank: row.bank_id.clone(),
            state: match row.state {
                CommandState::InProgress => "in_progress",
                CommandState::Successful => "successful",
                CommandState::Error => "error",
            },
            stage: progress.stage,
            percent: percent.map(|p| p.min(100)),
            since: row.since.to_string(),
            created: when(row.created_at),
            finished: row.finished_at.map(when),
            error_code: row.error_code.map(|code| code.as_str()),
            error_explanation: row.error_code.map(explain::command_error),
        }
    }
}

async fn recent(state: &AppState, staff: &Staff) -> Result<Vec<CommandLine>, ConsoleError> {
    let rows = console::recent_commands(&state.pool, staff.client_id, RECENT).await?;
    Ok(rows.iter().map(CommandLine::from).collect())
}

/// The imports page; its table refreshes itself from [`import_rows`].
pub async fn imports(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Response, ConsoleError> {
    let commands = recent(&state, &staff).await?;
    render(
        "imports.html",
        context! { staff, section => "imports", commands },
    )
}

/// The imports table's rows alone, for htmx to swap in every few seconds.
pub async fn import_rows(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Response, ConsoleError> {
    let commands = recent(&state, &staff).await?;
    render("import_rows.html", context! { commands })
}

#[derive(Serialize)]
struct ErrorLine {
    code: &'static str,
    count: i64,
    explanation: &'static str,
}

/// Imports per day and per bank, and errors by code, over the last 30 days.
pub async fn usage(State(state): State<AppState>, staff: Staff) -> Result<Response, ConsoleError> {
    let client = staff.client_id;
    let per_day = console::imports_per_day(&state.pool, client, USAGE_DAYS).await?;
    let per_bank = console::imports_per_bank(&state.pool, client, USAGE_DAYS).await?;
    let per_code = console::errors_per_code(&state.pool, client, USAGE_DAYS).await?;

    // Every day of the period gets a slot, so quiet days show as gaps rather than vanishing.
    let today = Utc::now().date_naive();
    let days: Vec<Bar> = (0..USAGE_DAYS)
        .rev()
        .map(|back| today - Duration::days(i64::from(back)))
        .map(|day| {
            let found = per_day.iter().find(|d| d.day == day);
            Bar {
                label: day.format("%m-%d").to_string(),
                segments: vec![
                    (found.map_or(0, |d| d.successful), "ok"),
                    (found.map_or(0, |d| d.failed), "failed"),
                    (found.map_or(0, |d| d.in_progress), "running"),
                ],
            }
        })
        .collect();
    let banks: Vec<Bar> = per_bank
        .iter()
        .map(|(bank, count)| Bar {
            label: bank.clone(),
            segments: vec![(*count, "ok")],
        })
        .collect();
    let codes: Vec<Bar> = per_code
        .iter()
        .map(|(code, count)| Bar {
            label: code.as_str().to_string(),
            segments: vec![(*count, "failed")],
        })
        .collect();
    let errors: Vec<ErrorLine> = per_code
        .iter()
        .map(|(code, count)| ErrorLine {
            code: code.as_str(),
            count: *count,
            explanation: explain::command_error(*code),
        })
        .collect();
    let total: i64 = per_day
        .iter()
        .map(|d| d.successful + d.failed + d.in_progress)
        .sum();
    render(
        "usage.html",
        context! {
            staff, section => "usage", days => USAGE_DAYS, total,
            per_day => charts::columns(Frame::WIDE, "Imports per day", &days),
            per_bank => (!banks.is_empty()).then(|| charts::columns(Frame::HALF, "Imports per bank", &banks)),
            per_code => (!codes.is_empty()).then(|| charts::columns(Frame::HALF, "Errors by code", &codes)),
            errors,
        },
    )
}
