//! The AIS reads under a valid consent: accounts and their balances, transaction reports,
//! card accounts, their balances and reports. Each call is one request, or one per account
//! where a bank leaves balances to a call of their own.

use aisle_sdk::{
    Account, BankSession, Card, CardTransaction, ConnectorError, DateWindow, Owner, Page,
    PageCursor, Transaction,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::BerlinGroupConnector;
use crate::client::parse;
use crate::errors::{self, Request};
use crate::mapping;
use crate::options::ConsentMode;
use crate::state::SessionSecret;
use crate::wire;

/// The receipt's words when neither the bank's balances link nor the specification's path
/// gave usable balances.
const BALANCES_UNAVAILABLE: &str =
    "the bank's balances answers were unusable, at its own link and at the specification's path";

impl BerlinGroupConnector {
    fn booking_status(&self) -> &'static str {
        if self.profile.supports.pending {
            "both"
        } else {
            "booked"
        }
    }

    /// The URL of a report page: the bank's `next` link, or the first page of `window`.
    pub(crate) fn report_url(
        &self,
        segments: &[&str],
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Url, ConnectorError> {
        if let Some(cursor) = page {
            let href = Cursor::decode(cursor).next;
            let url = self.client.resolve_api_link(&href)?;
            self.same_resource(&url, segments, &href)?;
            return Ok(url);
        }
        let mut url = self.client.endpoint(segments)?;
        url.query_pairs_mut()
            .append_pair("dateFrom", &window.from.to_string())
            .append_pair("dateTo", &window.to.to_string())
            .append_pair("bookingStatus", self.booking_status());
        Ok(url)
    }

    /// GETs a report page (see [`Self::report_url`]): the answer, and the URL it was read at.
    async fn report_answer<T: DeserializeOwned>(
        &self,
        session: &BankSession,
        segments: &[&str],
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<(T, Url), ConnectorError> {
        let secret = SessionSecret::decode(&session.secret)?;
        let url = self.report_url(segments, window, page)?;
        let answer = self
            .client
            .get(url.clone(), &secret, Request::Transactions)
            .await?;
        Ok((answer, url))
    }

    /// Refuses a page link outside the AIS resource being read (`segments`): the consent
    /// travels with it, and a bank's link to, say, a payment endpoint must not carry it.
    fn same_resource(
        &self,
        url: &Url,
        segments: &[&str],
        href: &str,
    ) -> Result<(), ConnectorError> {
        let resource = self.client.endpoint(segments)?;
        let path = url.path().trim_end_matches('/');
        let wanted = resource.path().trim_end_matches('/');
        if path == wanted || path.starts_with(&format!("{wanted}/")) {
            Ok(())
        } else {
            Err(errors::protocol(
                "the next page link leaves the report being read",
                href,
            ))
        }
    }

    /// The page a report answer makes: its rows as `map` reads them and the cursor of its
    /// `next` link; an answer without a report is [`no_report`]'s to say.
    pub(crate) fn report_page<T, U>(
        &self,
        report: Option<wire::Report<T>>,
        links: &wire::Links,
        (url, segments, page): (&Url, &[&str], Option<&PageCursor>),
        map: impl FnOnce(wire::Report<T>) -> Result<Vec<U>, ConnectorError>,
    ) -> Result<Page<U>, ConnectorError> {
        let Some(report) = report else {
            return no_report(links);
        };
        let next = match report.links.get("next") {
            None => None,
            Some(href) => {
                let next_url = self.client.resolve_api_link(href)?;
                self.same_resource(&next_url, segments, href)?;
                let seen = page.map(|c| Cursor::decode(c).seen).unwrap_or_default();
                Some(Cursor::after(seen, url, &next_url, href)?.encode())
            }
        };
        Ok(Page {
            items: map(report)?,
            next,
        })
    }

    /// `GET /v1/accounts`, with `withBalance=true` when asked. A bank that refuses the
    /// parameter (`PARAMETER_NOT_SUPPORTED`) is asked again without it.
    async fn account_list(
        &self,
        secret: &SessionSecret,
        with_balance: bool,
    ) -> Result<Vec<wire::AccountDetails>, ConnectorError> {
        let plain = self.client.endpoint(&["v1", "accounts"])?;
        if with_balance {
            let mut url = plain.clone();
            url.query_pairs_mut().append_pair("withBalance", "true");
            let answer = self
                .client
                .send_raw(self.client.consented(Method::GET, url, secret, true))
                .await?;
            if answer.status.is_success() {
                return Ok(parse::<wire::AccountList>(&answer.body)?.accounts);
            }
            let refused = answer.status == StatusCode::BAD_REQUEST
                && errors::message_codes(&answer.body)
                    .iter()
                    .any(|c| c == "PARAMETER_NOT_SUPPORTED");
            if !refused {
                return Err(answer.error(Request::Other));
            }
            tracing::debug!("the bank refuses withBalance; balances are read per account");
        }
        let list: wire::AccountList = self.client.get(plain, secret, Request::Other).await?;
        Ok(list.accounts)
    }

    /// A balances read: the bank's `balances` link when it gave one, else the spec's path;
    /// a link that answers outside the protocol (a 404, say) is retried at the spec's path.
    /// When that fails too, the account goes without balances (`None`) rather than failing
    /// the import: the balances are one part of one account. Passing faults, rate limits and
    /// an expired consent still stop the read, so the engine can act on them.
    async fn balances(
        &self,
        secret: &SessionSecret,
        links: &wire::Links,
        segments: &[&str],
    ) -> Result<Option<wire::BalancesResponse>, ConnectorError> {
        let spec_path = self.client.endpoint(segments)?;
        let linked = match links.get("balances") {
            Some(href) => Some(self.client.resolve_api_link(href)?),
            None => None,
        };
        let first = linked.clone().unwrap_or_else(|| spec_path.clone());
        let error = match self.client.get(first, secret, Request::Other).await {
            Ok(read) => return Ok(Some(read)),
            Err(error @ ConnectorError::Protocol { .. }) => error,
            Err(other) => return Err(other),
        };
        if linked.is_some_and(|url| url != spec_path) {
            tracing::info!(%error, "the bank's balances link failed; trying the spec's path");
            match self.client.get(spec_path, secret, Request::Other).await {
                Ok(read) => return Ok(Some(read)),
                Err(error @ ConnectorError::Protocol { .. }) => {
                    tracing::warn!(%error, "an account's balances could not be read");
                    return Ok(None);
                }
                Err(other) => return Err(other),
            }
        }
        tracing::warn!(%error, "an account's balances could not be read");
        Ok(None)
    }

    pub(crate) async fn read_owners(
        &self,
        session: &BankSession,
    ) -> Result<Vec<Owner>, ConnectorError> {
        if !self.profile.supports.owners {
            return Err(ConnectorError::Unsupported("owners"));
        }
        let secret = SessionSecret::decode(&session.secret)?;
        let accounts = self.account_list(&secret, false).await?;
        Ok(mapping::owners(&accounts))
    }

    pub(crate) async fn read_accounts(
        &self,
        session: &BankSession,
    ) -> Result<Vec<Account>, ConnectorError> {
        let secret = SessionSecret::decode(&session.secret)?;
        let want_balances = self.profile.supports.balances;
        let listed = self
            .account_list(
                &secret,
                want_balances && self.options.balances_in_account_list,
            )
            .await?;
        let mut accounts = Vec::with_capacity(listed.len());
        for raw in listed {
            // Banks that ignore withBalance, or were not asked, leave the balances to a call
            // of their own.
            let covered = granted_covers(
                secret.granted.as_ref().map(|g| &g.balances),
                [
                    raw.iban.as_deref(),
                    raw.bban.as_deref(),
                    raw.masked_pan.as_deref(),
                ],
            );
            let (fetched, unavailable) = match (
                &raw.resource_id,
                want_balances && covered && raw.balances.is_empty(),
            ) {
                (Some(id), true) => match self
                    .balances(&secret, &raw.links, &["v1", "accounts", id, "balances"])
                    .await?
                {
                    Some(read) => (Some(read.balances), false),
                    None => (Some(Vec::new()), true),
                },
                _ => (None, false),
            };
            let mut account = mapping::account(raw, fetched)?;
            account.balances_unavailable = unavailable.then(|| BALANCES_UNAVAILABLE.to_owned());
            accounts.push(account);
        }
        Ok(accounts)
    }

    pub(crate) async fn read_transactions(
        &self,
        session: &BankSession,
        account: &Account,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<Transaction>, ConnectorError> {
        if !self.profile.supports.transactions {
            return Err(ConnectorError::Unsupported("transactions"));
        }
        let secret = SessionSecret::decode(&session.secret)?;
        if !granted_covers(
            secret.granted.as_ref().map(|g| &g.transactions),
            [
                account.iban.as_deref(),
                account.bban.as_deref(),
                account.masked_pan.as_deref(),
            ],
        ) {
            return Err(ConnectorError::Unsupported(
                "transactions of an account the consent does not cover",
            ));
        }
        let (answer, url): (wire::TransactionsResponse, _) = self
            .report_answer(
                session,
                &["v1", "accounts", &account.bank_id, "transactions"],
                window,
                page,
            )
            .await?;
        let signs = self.options.amount_signs;
        let segments = ["v1", "accounts", account.bank_id.as_str(), "transactions"];
        self.report_page(
            answer.transactions,
            &answer.links,
            (&url, &segments, page),
            |report| mapping::transactions(report, signs),
        )
    }

    pub(crate) async fn read_cards(
        &self,
        session: &BankSession,
    ) -> Result<Vec<Card>, ConnectorError> {
        if !self.profile.supports.cards {
            return Err(ConnectorError::Unsupported("cards"));
        }
        if self.options.consent_mode == ConsentMode::DedicatedAccounts {
            return Err(ConnectorError::Unsupported(
                "card accounts under a dedicated-accounts consent",
            ));
        }
        let secret = SessionSecret::decode(&session.secret)?;
        let url = self.client.endpoint(&["v1", "card-accounts"])?;
        let list: wire::CardAccountList = self.client.get(url, &secret, Request::Other).await?;
        let mut cards = Vec::with_capacity(list.card_accounts.len());
        for raw in list.card_accounts {
            let mut debit_accounting = raw.debit_accounting.unwrap_or(false);
            let mut unavailable = false;
            let fetched = match (&raw.resource_id, raw.balances.is_empty()) {
                (Some(id), true) => {
                    let read = self
                        .balances(
                            &secret,
                            &raw.links,
                            &["v1", "card-accounts", id, "balances"],
                        )
                        .await?;
                    unavailable = read.is_none();
                    read.map(|read| {
                        debit_accounting = read.debit_accounting.unwrap_or(debit_accounting);
                        read.balances
                    })
                }
                _ => None,
            };
            let mut card = mapping::card(raw, fetched, debit_accounting)?;
            card.balances_unavailable = unavailable.then(|| BALANCES_UNAVAILABLE.to_owned());
            cards.push(card);
        }
        Ok(cards)
    }

    pub(crate) async fn read_card_transactions(
        &self,
        session: &BankSession,
        card: &Card,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<CardTransaction>, ConnectorError> {
        if !self.profile.supports.cards {
            return Err(ConnectorError::Unsupported("card transactions"));
        }
        let secret = SessionSecret::decode(&session.secret)?;
        if !granted_covers(
            secret.granted.as_ref().map(|g| &g.transactions),
            [card.masked_pan.as_deref(), None, None],
        ) {
            return Err(ConnectorError::Unsupported(
                "transactions of a card the consent does not cover",
            ));
        }
        let (answer, url): (wire::CardTransactionsResponse, _) = self
            .report_answer(
                session,
                &["v1", "card-accounts", &card.bank_id, "transactions"],
                window,
                page,
            )
            .await?;
        // Absent means the spec's default: debits quoted negative, as on payment accounts.
        let debit_accounting = answer.debit_accounting.unwrap_or(false);
        let segments = ["v1", "card-accounts", card.bank_id.as_str(), "transactions"];
        self.report_page(
            answer.card_transactions,
            &answer.links,
            (&url, &segments, page),
            |report| mapping::card_transactions(report, debit_accounting),
        )
    }
}

/// A report answer without a report: nothing in the period, or, with a `download` link, a
/// report too large for JSON that the bank offers as a file. Reading that file is not
/// implemented; saying so beats answering an empty page for a busy account.
fn no_report<T>(links: &wire::Links) -> Result<Page<T>, ConnectorError> {
    if links.get("download").is_some() {
        return Err(ConnectorError::Unsupported(
            "transaction reports offered as a download",
        ));
    }
    Ok(Page {
        items: Vec::new(),
        next: None,
    })
}

/// Whether a consent's list of granted accounts (`None`: every account) covers an account
/// known by these identifiers. Compared without spaces and case, as banks print IBANs both
/// ways.
fn granted_covers(granted: Option<&Vec<String>>, ids: [Option<&str>; 3]) -> bool {
    let Some(granted) = granted else {
        return true;
    };
    let norm = |s: &str| s.replace(' ', "").to_ascii_uppercase();
    ids.into_iter()
        .flatten()
        .any(|id| granted.iter().any(|g| norm(g) == norm(id)))
}

/// A report's paging cursor: the bank's `next` link and a fingerprint of every page read
/// before it in this window, so a bank that links back to an earlier page (A→B→A) is
/// caught however long its loop. A cursor that is not JSON is a bare link (what this
/// connector handed out before).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Cursor {
    next: String,
    #[serde(default)]
    seen: Vec<String>,
}

/// A loop longer than this many pages is beyond what the connector remembers; the engine's
/// own page limit ends it.
const REMEMBERED_PAGES: usize = 256;

impl Cursor {
    fn decode(cursor: &PageCursor) -> Self {
        serde_json::from_str(&cursor.0).unwrap_or_else(|_| Self {
            next: cursor.0.clone(),
            seen: Vec::new(),
        })
    }

    /// The cursor for `next` after reading `current`, having read `seen` before it.
    fn after(
        mut seen: Vec<String>,
        current: &Url,
        next: &Url,
        href: &str,
    ) -> Result<Self, ConnectorError> {
        seen.push(page_fingerprint(current));
        if seen.contains(&page_fingerprint(next)) {
            return Err(errors::protocol(
                "the next page link points back at a page already read",
                href,
            ));
        }
        if seen.len() > REMEMBERED_PAGES {
            seen.remove(0);
        }
        Ok(Self {
            next: href.to_owned(),
            seen,
        })
    }

    fn encode(&self) -> PageCursor {
        // A struct of strings always serialises.
        PageCursor(serde_json::to_string(self).unwrap_or_else(|_| self.next.clone()))
    }
}

/// A short, stable fingerprint of a page URL (16 hex digits of its SHA-256); the URL itself
/// may hold account ids, and a cursor is kept in memory only, but there is no need to copy
/// it around whole.
fn page_fingerprint(url: &Url) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(url.as_str().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
