//! Signed webhooks: a client's backend is told when an import or a sign-in ends instead of
//! polling for it.
//!
//! - [`outbox`]: the event is written in the transaction that changed the state it reports,
//!   with one delivery per subscribed endpoint, so an event exists exactly when the state
//!   changed, and never without its deliveries.
//! - [`delivery`]: the worker that sends due deliveries, signed ([`signing`]), through the
//!   [`guard`]ed client, and owns every delivery's transitions: retries with backoff, the
//!   attempt log, disabling an endpoint that is gone or keeps failing, redelivery by hand.
//! - [`endpoints`]: registering an endpoint: its URL's rules and its secret, shown once.

pub mod delivery;
pub mod endpoints;
pub mod guard;
pub mod outbox;
pub mod signing;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an event reports. Clients subscribe an endpoint to some of them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    sqlx::Type,
    ToSchema,
)]
#[sqlx(type_name = "text")]
pub enum EventType {
    /// A Default Import ended `successful`.
    #[serde(rename = "import.succeeded")]
    #[sqlx(rename = "import.succeeded")]
    ImportSucceeded,
    /// A Default Import ended `error`; the payload carries its error code.
    #[serde(rename = "import.failed")]
    #[sqlx(rename = "import.failed")]
    ImportFailed,
    /// An owner's sign-in (widget or redirection) ended with a session.
    #[serde(rename = "signin.succeeded")]
    #[sqlx(rename = "signin.succeeded")]
    SigninSucceeded,
    /// An owner's sign-in ended with an error code.
    #[serde(rename = "signin.failed")]
    #[sqlx(rename = "signin.failed")]
    SigninFailed,
    /// An import's or an owner's data was deleted. Emitted by data retention and deletion
    /// (issue 12), which write it through [`outbox::record`] in the transaction that deletes.
    #[serde(rename = "data.deleted")]
    #[sqlx(rename = "data.deleted")]
    DataDeleted,
}

impl EventType {
    pub const ALL: [Self; 5] = [
        Self::ImportSucceeded,
        Self::ImportFailed,
        Self::SigninSucceeded,
        Self::SigninFailed,
        Self::DataDeleted,
    ];

    /// The name as written on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImportSucceeded => "import.succeeded",
            Self::ImportFailed => "import.failed",
            Self::SigninSucceeded => "signin.succeeded",
            Self::SigninFailed => "signin.failed",
            Self::DataDeleted => "data.deleted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_written_as_its_dotted_name() {
        for event in EventType::ALL {
            assert_eq!(
                serde_json::to_value(event).unwrap(),
                serde_json::Value::String(event.as_str().into())
            );
        }
    }
}
