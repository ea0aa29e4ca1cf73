//! Bulk access: every transaction a client imported in a period, streamed as NDJSON (one
//! transaction per line with its account and command) or, with `Accept: text/csv`, as CSV.
//!
//! The period selects imports by when they finished (UTC days, both ends included): an export
//! covers what the client imported then, whatever the dates of the rows. Commands are read in
//! batches and their rows in keyset batches, so memory stays flat whatever the period holds.

use axum::{
    Router,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    auth::Authenticated,
    error::ApiError,
    result_body::{self, BodyWriter, WriteError},
};
use crate::{
    model::input::OwnerExternalId,
    model::result::TransactionView,
    state::AppState,
    store::results::{self, ExportedCommand, RowKey, RowStatus, Scope},
};

/// Commands read per query.
const COMMAND_BATCH: i64 = 200;
/// Rows read per query.
const ROW_BATCH: i64 = 1_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/exports/transactions", get(export_transactions))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// First day (UTC) of the imports covered, `YYYY-MM-DD`.
    since: NaiveDate,
    /// Last day (UTC) of the imports covered, `YYYY-MM-DD`; default today.
    until: Option<NaiveDate>,
    /// Only this owner's imports.
    #[param(value_type = Option<OwnerExternalId>)]
    owner_external_id: Option<OwnerExternalId>,
}

/// One line of the export: a transaction with its account and command.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportLine<'a> {
    pub command_id: Uuid,
    pub owner_external_id: &'a str,
    pub bank: &'a str,
    pub bank_account_id: &'a str,
    pub iban: Option<&'a str>,
    #[serde(flatten)]
    pub transaction: &'a TransactionView,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    NdJson,
    Csv,
}

/// Streams the client's imported transactions.
#[utoipa::path(
    get,
    path = "/v1/exports/transactions",
    operation_id = "export_transactions",
    tag = "Exports",
    params(ExportQuery, ("Accept" = Option<String>, Header, description = "`text/csv` for CSV; NDJSON otherwise")),
    responses(
        (status = 200, body = ExportLine, content_type = "application/x-ndjson", description = "One JSON object per line; `text/csv` with a header row when asked"),
    ),
)]
async fn export_transactions(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    query: Result<Query<ExportQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let until = query.until.unwrap_or_else(|| Utc::now().date_naive());
    // An `until` before `since` is an empty period: no import finished in it.
    let from = query.since.and_time(chrono::NaiveTime::MIN).and_utc();
    let before = until
        .checked_add_days(Days::new(1))
        .ok_or_else(|| ApiError::InvalidParameter("`until` is out of range".into()))?
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let format = if accepts_csv(&headers) {
        Format::Csv
    } else {
        Format::NdJson
    };
    let export = Export {
        pool: state.pool.clone(),
        client_id: client.id,
        from,
        before,
        owner: query.owner_external_id.map(String::from),
        format,
    };
    let content_type = match format {
        Format::NdJson => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    let body = result_body::streamed(move |writer| export.write(writer));
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response())
}

fn accepts_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|m| m.trim() == "text/csv")
        })
}

struct Export {
    pool: PgPool,
    client_id: Uuid,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    owner: Option<String>,
    format: Format,
}

const CSV_HEADER: &str = "commandId,ownerExternalId,bank,bankAccountId,iban,id,status,bookingDate,valueDate,amount,currency,counterpartyName,counterpartyAccount,description,bankTransactionCode,balanceAfter\r\n";

impl Export {
    async fn write(self, mut writer: BodyWriter) -> Result<(), WriteError> {
        if self.format == Format::Csv {
            writer.write(CSV_HEADER.as_bytes());
        }
        let mut after = None;
        loop {
            let commands = results::exported_commands(
                &self.pool,
                self.client_id,
                self.from,
                self.before,
                self.owner.as_deref(),
                after,
                COMMAND_BATCH,
            )
            .await?;
            for command in &commands {
                self.write_command(&mut writer, command).await?;
            }
            match commands.last() {
                Some(last) if commands.len() as i64 == COMMAND_BATCH => {
                    after = Some((last.finished_at, last.id));
                }
                _ => return writer.finish().await,
            }
        }
    }

    async fn write_command(
        &self,
        writer: &mut BodyWriter,
        command: &ExportedCommand,
    ) -> Result<(), WriteError> {
        let scope = Scope {
            client_id: self.client_id,
            command_id: command.id,
        };
        let heads = results::load_heads(&self.pool, scope).await?;
        for account in &heads.accounts {
            for status in [RowStatus::Booked, RowStatus::Pending] {
                let mut after: Option<RowKey> = None;
                loop {
                    let rows = results::transactions_batch(
                        &self.pool,
                        scope,
                        account.id,
                        status,
                        after.as_ref(),
                        ROW_BATCH,
                    )
                    .await?;
                    for row in &rows {
                        let line = ExportLine {
                            command_id: command.id,
                            owner_external_id: &command.owner_external_id,
                            bank: &command.bank_id,
                            bank_account_id: &account.bank_account_id,
                            iban: account.iban.as_deref(),
                            transaction: row,
                        };
                        match self.format {
                            Format::NdJson => {
                                writer.write_json(&line)?;
                                writer.write(b"\n");
                            }
                            Format::Csv => write_csv_line(writer, &line),
                        }
                        writer.flush_if_full().await?;
                    }
                    match rows.last() {
                        Some(last) if rows.len() as i64 == ROW_BATCH => {
                            after = Some(RowKey::of_transaction(last));
                        }
                        _ => break,
                    }
                }
            }
        }
        Ok(())
    }
}

fn write_csv_line(writer: &mut BodyWriter, line: &ExportLine<'_>) {
    let t = line.transaction;
    let text = |value: Option<&str>| value.map(csv_text).unwrap_or_default();
    let plain = |value: Option<String>| value.map(|v| csv_quoted(&v)).unwrap_or_default();
    let fields = [
        line.command_id.to_string(),
        csv_text(line.owner_external_id),
        csv_text(line.bank),
        csv_text(line.bank_account_id),
        text(line.iban),
        csv_text(&t.id),
        t.status.clone(),
        plain(t.booking_date.map(|d| d.to_string())),
        plain(t.value_date.map(|d| d.to_string())),
        t.amount.to_string(),
        csv_text(&t.currency),
        text(t.counterparty_name.as_deref()),
        text(t.counterparty_account.as_deref()),
        text(t.description.as_deref()),
        text(t.bank_transaction_code.as_deref()),
        plain(t.balance_after.map(|b| b.to_string())),
    ];
    writer.write(fields.join(",").as_bytes());
    writer.write(b"\r\n");
}

/// A text cell from a bank or a client: quoted (RFC 4180), and defused when a spreadsheet
/// would read it as a formula (OWASP's CSV injection advice: a leading `'`).
pub(crate) fn csv_text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_quoted(&format!("'{value}"))
    } else {
        csv_quoted(value)
    }
}

pub(crate) fn csv_quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_text("a \"b\", c"), "\"a \"\"b\"\", c\"");
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_text("line\nbreak"), "\"line\nbreak\"");
    }
}
