//! Plain words for the codes a client's staff meet in the console: why an import failed, and
//! why a receipt falls short. One explanation per value, so a new code fails to compile here
//! until it has one.

use crate::model::{command::CommandErrorCode, receipt::ShortfallReason};

/// What a command error code means for the person reading the console.
pub fn command_error(code: CommandErrorCode) -> &'static str {
    match code {
        CommandErrorCode::SessionExpired => {
            "The bank access ended before the import could use it: the owner took too long, or \
             the bank revoked the consent. Ask the owner to sign in again."
        }
        CommandErrorCode::ScaRequired => {
            "The bank wants the owner to confirm their identity again (strong customer \
             authentication). Ask the owner to sign in again."
        }
        CommandErrorCode::InvalidCredentials => {
            "The bank did not accept the owner's credentials for this access."
        }
        CommandErrorCode::AccessBlocked => {
            "The bank has blocked access for this owner; only the owner can resolve it with \
             their bank."
        }
        CommandErrorCode::BankUnavailable => {
            "The bank could not be reached or kept failing, even after retries. Try again later."
        }
        CommandErrorCode::BankRateLimited => {
            "The bank asked Aisle to slow down for longer than an import may wait. What was \
             fetched is kept; the receipts say what is missing."
        }
        CommandErrorCode::BankProtocolError => {
            "The bank answered something Aisle cannot accept (malformed, contradictory or over \
             a limit). Aisle's operators have the details."
        }
        CommandErrorCode::Timeout => "The import took longer than it is allowed to.",
        CommandErrorCode::Internal => {
            "Aisle itself failed. The details are in Aisle's logs; nothing is wrong with the \
             owner's bank access."
        }
    }
}

/// What a receipt's shortfall means, in plain words.
pub fn shortfall(reason: ShortfallReason) -> &'static str {
    match reason {
        ShortfallReason::BankHistoryLimit => {
            "The bank keeps less history than was asked for, so older transactions do not exist \
             there."
        }
        ShortfallReason::ScaWindowClosed => {
            "History older than 90 days needs a fresh confirmation at the bank, and the bank \
             allows reading it only for a few minutes after the owner signed in. That time ran \
             out, so the history stops earlier."
        }
        ShortfallReason::PeriodInvalidShrunk => {
            "The bank refused a long date range, so it was read in smaller pieces. Nothing is \
             missing because of this."
        }
        ShortfallReason::NotSupportedByBank => "The bank does not offer this part of the data.",
        ShortfallReason::RateLimited => {
            "The bank's request budget ran out before everything was read."
        }
        ShortfallReason::BalancesUnavailable => {
            "The bank's answers for this account's balances could not be read, so the account \
             and its transactions are here without its balances."
        }
    }
}
