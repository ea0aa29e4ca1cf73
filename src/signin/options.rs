//! What the widget and a redirection both say about the sign-in they open, checked once for
//! both: the owner, the country and bank to offer, the language, the history asked for, and
//! whether the sign-in starts its import by itself (auto import).
//!
//! Auto import: the client's setting decides, and an opener may override it. A redirection is
//! opened by the client's backend with its API key, so its `autoImport` may turn auto import
//! on, off, or change its months. A widget's options pass through the owner's browser, where
//! anyone can edit them, so an embed may turn auto import off or change its months only where
//! the client's setting has it on: it never starts imports the client did not agree to. The
//! decision is taken when the sign-in opens, like its other terms.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::{
    model::input::{AutoImportChoice, AutoImportMonths},
    store::signins::{Channel, NewSignIn},
};

/// The locales the pages have texts for; anything else shows English.
const LOCALES: [&str; 3] = ["en", "de", "pl"];

pub struct SignInOptions {
    pub owner_external_id: String,
    pub country: Option<String>,
    pub locale: String,
    pub bank: Option<String>,
    pub max_import_date: Option<NaiveDate>,
    pub force_sca: bool,
    pub auto_import: AutoImportChoice,
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
            auto_import: AutoImportChoice::ClientSetting,
        })
    }

    /// The same options with the opener's word on auto import.
    pub fn with_auto_import(self, auto_import: AutoImportChoice) -> Self {
        Self {
            auto_import,
            ..self
        }
    }

    /// The sign-in these options open for `client_id`, by `opener`, until `expires_at`.
    /// `client_auto_import` is the client's auto import setting now.
    pub fn open(
        self,
        client_id: Uuid,
        client_auto_import: Option<AutoImportMonths>,
        opener: Opener,
        expires_at: DateTime<Utc>,
    ) -> NewSignIn {
        let auto_import_months = auto_import_months(self.auto_import, client_auto_import, &opener);
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
            auto_import_months,
            expires_at,
        }
    }
}

/// The months a sign-in's auto import fetches, or `None` for no auto import (see the module's
/// documentation for why a widget cannot turn it on).
fn auto_import_months(
    choice: AutoImportChoice,
    client_setting: Option<AutoImportMonths>,
    opener: &Opener,
) -> Option<AutoImportMonths> {
    match (choice, opener) {
        (AutoImportChoice::ClientSetting, _) => client_setting,
        (AutoImportChoice::Off, _) => None,
        (AutoImportChoice::Months(months), Opener::Redirection { .. }) => Some(months),
        (AutoImportChoice::Months(months), Opener::Widget { .. }) => client_setting.map(|_| months),
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
    fn a_widget_may_turn_auto_import_off_or_change_its_months_but_only_a_redirection_turns_it_on() {
        let months = |n| AutoImportMonths::new(n).unwrap();
        let widget = Opener::Widget {
            parent_origin: "https://shop.example".into(),
            state: "s".repeat(16),
        };
        let redirection = Opener::Redirection {
            redirect_uri: "https://shop.example/back".into(),
        };
        let on = Some(months(12));
        for opener in [&widget, &redirection] {
            assert_eq!(
                auto_import_months(AutoImportChoice::ClientSetting, on, opener),
                on
            );
            assert_eq!(
                auto_import_months(AutoImportChoice::ClientSetting, None, opener),
                None
            );
            assert_eq!(auto_import_months(AutoImportChoice::Off, on, opener), None);
            assert_eq!(
                auto_import_months(AutoImportChoice::Months(months(3)), on, opener),
                Some(months(3))
            );
        }
        let asked = AutoImportChoice::Months(months(3));
        assert_eq!(auto_import_months(asked, None, &widget), None);
        assert_eq!(
            auto_import_months(asked, None, &redirection),
            Some(months(3))
        );
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
