//! A command's vocabulary: its state, its progress stages and the stable codes it ends with.
//! Every value is an enum, so the compiler and the OpenAPI document know each one.

use aisle_sdk::ConnectorError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kinds of command Aisle runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    DefaultImport,
}

/// Who started a command.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum StartedBy {
    /// The client's backend posted Default Import.
    Api,
    /// Aisle, when the sign-in succeeded, because the client has auto import on.
    AutoImport,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    InProgress,
    Successful,
    Error,
}

/// Where a running import is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting for a worker.
    #[default]
    Queued,
    /// Reading owners, accounts and cards.
    Accounts,
    /// Reading transactions, window by window.
    History,
    /// Writing the result, in the transaction that ends the command.
    Storing,
    /// Ended `successful`.
    Done,
    /// Ended `error`.
    Failed,
}

/// Where a running import is, for clients to show something honest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub stage: Stage,
    /// History windows fetched so far, over all accounts and cards.
    pub windows_done: u32,
    pub windows_total: u32,
}

impl Progress {
    pub fn at(stage: Stage) -> Self {
        Self {
            stage,
            ..Self::default()
        }
    }
}

/// Why a command ended in `error`. Stable names: clients match on them. They follow
/// Kontomatik's where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "text")]
pub enum CommandErrorCode {
    /// The session's bank access ended before or during the import.
    SessionExpired,
    /// The bank asks for strong customer authentication again.
    ScaRequired,
    InvalidCredentials,
    /// The bank blocked access for this owner.
    AccessBlocked,
    /// The bank could not be reached or kept failing.
    BankUnavailable,
    /// The bank asked to wait longer than the import may; what was fetched is kept.
    BankRateLimited,
    /// The bank answered something Aisle cannot accept: unparseable, contradictory, over a
    /// limit (body size, pages, rows) or arithmetically impossible.
    BankProtocolError,
    /// The import took longer than allowed.
    Timeout,
    /// Aisle failed; the detail is in its logs.
    Internal,
}

impl CommandErrorCode {
    /// The code for a bank failure that retries did not cure.
    pub fn for_bank_error(error: &ConnectorError) -> Self {
        match error {
            ConnectorError::Transient(_) => Self::BankUnavailable,
            ConnectorError::RateLimited { .. } => Self::BankRateLimited,
            ConnectorError::ScaRequired => Self::ScaRequired,
            ConnectorError::ConsentExpired => Self::SessionExpired,
            ConnectorError::InvalidCredentials => Self::InvalidCredentials,
            ConnectorError::AccessBlocked => Self::AccessBlocked,
            ConnectorError::PeriodInvalid | ConnectorError::Protocol { .. } => {
                Self::BankProtocolError
            }
            ConnectorError::Unsupported(_) => Self::Internal,
        }
    }

    /// Whether a command that ended with this code still presents what it fetched. Only a
    /// long rate limit does: its receipts say what is missing.
    pub fn keeps_result(self) -> bool {
        self == Self::BankRateLimited
    }

    /// The code as written on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionExpired => "SessionExpired",
            Self::ScaRequired => "ScaRequired",
            Self::InvalidCredentials => "InvalidCredentials",
            Self::AccessBlocked => "AccessBlocked",
            Self::BankUnavailable => "BankUnavailable",
            Self::BankRateLimited => "BankRateLimited",
            Self::BankProtocolError => "BankProtocolError",
            Self::Timeout => "Timeout",
            Self::Internal => "Internal",
        }
    }
}

impl std::fmt::Display for CommandErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Successful,
    Error {
        code: CommandErrorCode,
        detail: String,
    },
}

impl Outcome {
    pub fn error(code: CommandErrorCode, detail: impl Into<String>) -> Self {
        Self::Error {
            code,
            detail: detail.into(),
        }
    }

    /// The outcome for a bank failure that retries did not cure.
    pub fn for_bank_error(error: &ConnectorError) -> Self {
        Self::error(CommandErrorCode::for_bank_error(error), error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_written_as_its_name_on_the_wire() {
        for code in [
            CommandErrorCode::SessionExpired,
            CommandErrorCode::ScaRequired,
            CommandErrorCode::InvalidCredentials,
            CommandErrorCode::AccessBlocked,
            CommandErrorCode::BankUnavailable,
            CommandErrorCode::BankRateLimited,
            CommandErrorCode::BankProtocolError,
            CommandErrorCode::Timeout,
            CommandErrorCode::Internal,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::String(code.as_str().into())
            );
        }
    }

    #[test]
    fn stages_are_written_in_snake_case() {
        assert_eq!(
            serde_json::to_value(Progress::at(Stage::History)).unwrap(),
            serde_json::json!({"stage": "history", "windowsDone": 0, "windowsTotal": 0})
        );
    }
}
