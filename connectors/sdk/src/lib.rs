//! The connector SDK: what every bank connector implements and what the engine relies on.
//!
//! A connector is a protocol translator. It never touches the database, never sleeps for
//! retries and never decides history windows: it classifies what the bank said
//! ([`ConnectorError`]) so the engine can act on it.

#[cfg(feature = "conformance")]
pub mod conformance;
mod connector;
mod domain;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod lenient;
mod profile;
pub mod redact;
mod retry_after;

pub use connector::{
    BankSession, ChoiceOption, Connector, FormField, FormFieldKind, Page, PageCursor,
    SignInCallback, SignInProgress, SignInRequest, SignInStep,
};
pub use domain::{
    Account, Balance, Card, CardTransaction, DateWindow, Owner, OwnerKind, Transaction,
    TransactionStatus,
};
pub use error::ConnectorError;
pub use profile::{BankProfile, BankProfileOverrides, Supports};
pub use retry_after::parse_retry_after;
