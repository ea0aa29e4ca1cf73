//! How a bank failure becomes a command's stable error code.

use aisle_sdk::ConnectorError;

use crate::store::commands::Outcome;

/// The command outcome for a bank failure that retries did not cure.
pub fn for_bank_error(error: &ConnectorError) -> Outcome {
    Outcome::Error {
        code: code_for(error),
        detail: error.to_string(),
    }
}

/// The stable code for a bank failure.
pub fn code_for(error: &ConnectorError) -> &'static str {
    match error {
        ConnectorError::Transient(_) => "BankUnavailable",
        ConnectorError::RateLimited { .. } => "BankRateLimited",
        ConnectorError::ScaRequired => "ScaRequired",
        ConnectorError::ConsentExpired => "SessionExpired",
        ConnectorError::InvalidCredentials => "InvalidCredentials",
        ConnectorError::AccessBlocked => "AccessBlocked",
        ConnectorError::PeriodInvalid | ConnectorError::Protocol { .. } => "BankProtocolError",
        ConnectorError::Unsupported(_) => "Internal",
    }
}
