//! A client's own settings (`clients.retention_seconds`, `clients.auto_import_months`), read
//! and written apart from the client row the API key cache holds, so a change is seen at once.

use sqlx::PgPool;
use uuid::Uuid;

use crate::model::settings::{
    AutoImport, AutoImportMonths, ClientSettings, RetentionSeconds, SettingsChange,
};

#[derive(sqlx::FromRow)]
struct Row {
    retention_seconds: i32,
    auto_import_months: Option<i16>,
}

impl Row {
    /// The columns' checks hold the same ranges as the types; a value outside them would be a
    /// migration gone wrong, and is reported as a decoding error rather than trusted.
    fn settings(self) -> Result<ClientSettings, sqlx::Error> {
        let decode = |e: String| sqlx::Error::Decode(e.into());
        Ok(ClientSettings {
            retention_seconds: RetentionSeconds::new(self.retention_seconds.into())
                .map_err(decode)?,
            auto_import: self
                .auto_import_months
                .map(|months| AutoImportMonths::new(months.into()))
                .transpose()
                .map_err(decode)?
                .map(|months| AutoImport { months }),
        })
    }
}

/// The client's settings; `None` for a client that does not exist.
pub async fn get(pool: &PgPool, client_id: Uuid) -> Result<Option<ClientSettings>, sqlx::Error> {
    let row: Option<Row> =
        sqlx::query_as("select retention_seconds, auto_import_months from clients where id = $1")
            .bind(client_id)
            .fetch_optional(pool)
            .await?;
    row.map(Row::settings).transpose()
}

/// Applies `change` (a field it leaves out stays as it is); returns the settings after it, or
/// `None` for a client that does not exist.
pub async fn update(
    pool: &PgPool,
    client_id: Uuid,
    change: &SettingsChange,
) -> Result<Option<ClientSettings>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "update clients
         set retention_seconds = coalesce($2, retention_seconds),
             auto_import_months = case when $3 then $4 else auto_import_months end
         where id = $1
         returning retention_seconds, auto_import_months",
    )
    .bind(client_id)
    .bind(change.retention_seconds.map(RetentionSeconds::get))
    .bind(change.auto_import.is_some())
    .bind(
        change
            .auto_import
            .flatten()
            .map(|auto_import| auto_import.months.get()),
    )
    .fetch_optional(pool)
    .await?;
    row.map(Row::settings).transpose()
}
