//! What the widget and a redirection both say about the sign-in they open, checked once for
//! both: the owner, the country and bank to offer, the language, and the history asked for.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::store::signins::{Channel, NewSignIn};

/// The locales the pages have texts for; anything else shows English.
const LOCALES: [&str; 3] = ["en", "de", "pl"];

pub struct SignInOptions {
    pub owner_external_id: String,
    pub country: Option<String>,
    pub locale: String,
    pub bank: Option<String>,
    pub max_import_date: Option<NaiveDate>,
    pub force_sca: bool,
}

/// Who opens the sign-in, and so where its outcome goes.
pub enum Opener {
    /// The widget on a page of this registered origin, with the embed's `state`.
    Widget {
        parent_origin: String,
        state: String,
    },
    /// A redirection returning the owner to this registered URI.
    Redirection { redirect_uri: String },
}

impl SignInOptions {
    /// Checks and normalises the options; the error is a message for the developer. An
    /// unknown locale falls back to English, a blank country or bank means none.
    pub fn new(
        owner_external_id: &str,
        country: Option<&str>,
        locale: Option<&str>,
        bank: Option<&str>,
        max_import_date: Option<NaiveDate>,
        force_sca: bool,
        today: NaiveDate,
    ) -> Result<Self, &'static str> {
        let owner_external_id = owner_external_id.trim();
        if !(1..=255).contains(&owner_external_id.len()) {
            return Err("ownerExternalId must be 1 to 255 characters");
        }
        let country = match country.map(str::trim) {
            None | Some("") => None,
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(c.to_ascii_uppercase())
            }
            Some(_) => return Err("country must be an ISO 3166 alpha-2 code"),
        };
        if max_import_date.is_some_and(|date| date > today) {
            return Err("maxImportDate must not lie in the future");
        }
        let locale = locale
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|l| LOCALES.contains(&l.as_str()))
            .unwrap_or_else(|| "en".into());
        let bank = bank
            .map(str::trim)
            .filter(|b| !b.is_empty() && b.len() <= 64)
            .map(str::to_string);
        Ok(Self {
            owner_external_id: owner_external_id.to_string(),
            country,
            locale,
            bank,
            max_import_date,
            force_sca,
        })
    }

    /// The sign-in these options open for `client_id`, by `opener`, until `expires_at`.
    pub fn open(self, client_id: Uuid, opener: Opener, expires_at: DateTime<Utc>) -> NewSignIn {
        let (channel, parent_origin, widget_state, redirect_uri) = match opener {
            Opener::Widget {
                parent_origin,
                state,
            } => (Channel::Widget, Some(parent_origin), Some(state), None),
            Opener::Redirection { redirect_uri } => {
                (Channel::Redirection, None, None, Some(redirect_uri))
            }
        };
        NewSignIn {
            client_id,
            channel,
            owner_external_id: self.owner_external_id,
            parent_origin,
            widget_state,
            redirect_uri,
            locale: self.locale,
            country: self.country,
            preselected_bank: self.bank,
            max_import_date: self.max_import_date,
            force_sca: self.force_sca,
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        "2026-11-21".parse().unwrap()
    }

    fn options(owner: &str, country: Option<&str>, locale: Option<&str>) -> SignInOptions {
        SignInOptions::new(
            owner,
            country,
            locale,
            Some(" sandbox "),
            None,
            false,
            today(),
        )
        .unwrap()
    }

    #[test]
    fn options_are_normalised_and_an_unknown_locale_shows_english() {
        let checked = options(" owner-1 ", Some("de"), Some("PL"));
        assert_eq!(checked.owner_external_id, "owner-1");
        assert_eq!(checked.country.as_deref(), Some("DE"));
        assert_eq!(checked.locale, "pl");
        assert_eq!(checked.bank.as_deref(), Some("sandbox"));
        assert_eq!(options("o", Some(" "), Some("fr")).locale, "en");
        assert_eq!(options("o", Some(" "), None).country, None);
    }

    #[test]
    fn a_blank_owner_a_bad_country_or_a_future_max_import_date_is_refused() {
        let new = |owner: &str, country: Option<&str>, date: Option<NaiveDate>| {
            SignInOptions::new(owner, country, None, None, date, false, today())
        };
        assert!(new("  ", None, None).is_err());
        assert!(new(&"x".repeat(256), None, None).is_err());
        assert!(new("o", Some("DEU"), None).is_err());
        assert!(new("o", None, today().succ_opt()).is_err());
        assert!(new("o", None, Some(today())).is_ok());
    }
}
