//! The reply documents, as serde types written by quick-xml: every value is escaped by the
//! writer, never spliced into markup by hand. Field names follow Kontomatik's recorded
//! replies; `@name` fields are attributes.

use std::borrow::Cow;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use quick_xml::{
    Writer,
    events::{BytesDecl, Event},
};
use serde::Serialize;

/// `<reply>`: the root of every answer.
#[derive(Debug, Serialize)]
pub struct Reply {
    /// The HTTP status as text, e.g. `202 Accepted`: always the response's own status.
    #[serde(rename = "@status")]
    status: String,
    /// The client's name.
    #[serde(rename = "@user", skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(rename = "@ownerExternalId", skip_serializing_if = "Option::is_none")]
    owner_external_id: Option<String>,
    #[serde(rename = "@responseTimestamp")]
    response_timestamp: String,
    #[serde(rename = "$value")]
    body: Body,
    #[serde(skip)]
    http_status: StatusCode,
}

/// The one element inside `<reply>`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Body {
    Command(Box<CommandXml>),
    Exception(ExceptionXml),
    Comment(String),
    Session(SessionXml),
    Result(Box<ResultXml>),
}

impl Reply {
    pub fn new(status: StatusCode, body: Body) -> Self {
        Self {
            status: status.to_string(),
            user: None,
            owner_external_id: None,
            response_timestamp: timestamp(Utc::now()),
            body,
            http_status: status,
        }
    }

    /// Names the client the reply is for.
    pub fn user(mut self, name: &str) -> Self {
        self.user = Some(text(name).into_owned());
        self
    }

    /// Names the owner the reply is about.
    pub fn owner(mut self, owner_external_id: &str) -> Self {
        self.owner_external_id = Some(text(owner_external_id).into_owned());
        self
    }

    /// The document: an XML declaration naming UTF-8, then `<reply>`.
    pub fn to_xml(&self) -> Result<Vec<u8>, quick_xml::SeError> {
        let mut writer = Writer::new(Vec::new());
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer.write_serializable("reply", self)?;
        Ok(writer.into_inner())
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self.to_xml() {
            Ok(document) => (
                self.http_status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml; charset=utf-8"),
                )],
                document,
            )
                .into_response(),
            Err(error) => {
                tracing::error!(%error, "could not write an XML reply");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// `<command>`: a command's state, progress and outcome.
#[derive(Debug, Serialize)]
pub struct CommandXml {
    #[serde(rename = "@id")]
    pub id: String,
    #[serde(rename = "@state")]
    pub state: &'static str,
    #[serde(rename = "@name")]
    pub name: &'static str,
    /// The bank's id.
    #[serde(rename = "@target", skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The bank's name.
    #[serde(rename = "@institution", skip_serializing_if = "Option::is_none")]
    pub institution: Option<String>,
    pub progress: ProgressXml,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<ExceptionXml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultXml>,
}

#[derive(Debug, Serialize)]
pub struct ProgressXml {
    /// 0 to 100.
    pub value: u8,
}

/// `<exception name="…">`: why a request or a command failed.
#[derive(Debug, Serialize)]
pub struct ExceptionXml {
    #[serde(rename = "@name")]
    pub name: &'static str,
    pub message: String,
}

/// `<session id="…" signature="…"/>`: a sandbox session (mock-session).
#[derive(Debug, Serialize)]
pub struct SessionXml {
    #[serde(rename = "@id")]
    pub id: String,
    #[serde(rename = "@signature")]
    pub signature: String,
    #[serde(rename = "@target")]
    pub target: String,
}

/// `<result>`: what an import brought.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultXml {
    pub owners: OwnersXml,
    pub accounts: AccountsXml,
    pub credit_cards: CreditCardsXml,
}

#[derive(Debug, Default, Serialize)]
pub struct OwnersXml {
    pub owner: Vec<OwnerXml>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerXml {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct AccountsXml {
    pub account: Vec<AccountXml>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountXml {
    #[serde(
        rename = "@partialDueToTimeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub partial_due_to_timeout: Option<bool>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    pub iban: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_balance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_funds_available: Option<String>,
    pub currency_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_since_at_least: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owners: Option<OwnersXml>,
    pub money_transactions: MoneyTransactionsXml,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyTransactionsXml {
    pub money_transaction: Vec<MoneyTransactionXml>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyTransactionXml {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booked_on: Option<String>,
    pub currency_amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_balance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// Present whenever `party` is, empty when the bank gave no account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party_iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub status: &'static str,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditCardsXml {
    pub credit_card: Vec<CreditCardXml>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditCardXml {
    #[serde(
        rename = "@partialDueToTimeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub partial_due_to_timeout: Option<bool>,
    pub card_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_balance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_funds_available: Option<String>,
    pub currency_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    pub money_transactions: MoneyTransactionsXml,
}

/// An instant as Kontomatik writes it: `YYYY-MM-DDThh:mm:ssZ`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `value` without the characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE,
/// U+FFFF). The writer escapes markup; these it would pass through, and a bank's stray NUL
/// would then make the whole document unreadable.
pub fn text(value: &str) -> Cow<'_, str> {
    fn allowed(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    }
    if value.chars().all(allowed) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.chars().filter(|&c| allowed(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(reply: &Reply) -> String {
        String::from_utf8(reply.to_xml().unwrap()).unwrap()
    }

    #[test]
    fn a_reply_declares_utf8_and_escapes_what_it_carries() {
        let reply = Reply::new(
            StatusCode::NOT_FOUND,
            Body::Exception(ExceptionXml {
                name: "InvalidCommandId",
                message: "no <command> named \"a&b\"".into(),
            }),
        )
        .user("Ben & Jerry's <Lending>");
        let xml = document(&reply);
        assert!(
            xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><reply status="404 Not Found" user="Ben &amp; Jerry's &lt;Lending&gt;""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<exception name="InvalidCommandId"><message>no &lt;command&gt; named "a&amp;b"</message></exception></reply>"#),
            "{xml}"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped_and_the_rest_kept() {
        assert_eq!(
            text("Caf\u{e9}\u{0} \u{1b}[1mbar\tok\u{FFFF}"),
            "Caf\u{e9} [1mbar\tok"
        );
        assert!(matches!(text("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn instants_are_written_to_the_second_in_utc() {
        let at = "2026-11-21T10:15:30.123456Z".parse().unwrap();
        assert_eq!(timestamp(at), "2026-11-21T10:15:30Z");
    }
}
