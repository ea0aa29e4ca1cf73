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
use crate::client::{BankClient, parse};
use crate::errors::{self, Request};
use crate::mapping;
use crate::options::ConsentMode;
use crate::state::SessionSecret;
use crate::wire;

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
            return self.client.resolve_api_link(&cursor.0);
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

    /// The page a report answer makes: its rows as `map` reads them and the cursor of its
    /// `next` link; an answer without a report is [`no_report`]'s to say.
    pub(crate) fn report_page<T, U>(
        &self,
        report: Option<wire::Report<T>>,
        links: &wire::Links,
        url: &Url,
        map: impl FnOnce(wire::Report<T>) -> Result<Vec<U>, ConnectorError>,
    ) -> Result<Page<U>, ConnectorError> {
        let Some(report) = report else {
            return no_report(links);
        };
        let next = next_cursor(&report.links, url, &self.client)?;
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

    /// A balances read: the bank's `balances` link when it gave one, else the spec's path.
    async fn balances(
        &self,
        secret: &SessionSecret,
        links: &wire::Links,
        segments: &[&str],
    ) -> Result<wire::BalancesResponse, ConnectorError> {
        let url = match links.get("balances") {
            Some(href) => self.client.resolve_api_link(href)?,
            None => self.client.endpoint(segments)?,
        };
        self.client.get(url, secret, Request::Other).await
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
            let fetched = match (&raw.resource_id, want_balances && raw.balances.is_empty()) {
                (Some(id), true) => Some(
                    self.balances(&secret, &raw.links, &["v1", "accounts", id, "balances"])
                        .await?
                        .balances,
                ),
                _ => None,
            };
            accounts.push(mapping::account(raw, fetched)?);
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
        let (answer, url): (wire::TransactionsResponse, _) = self
            .report_answer(
                session,
                &["v1", "accounts", &account.bank_id, "transactions"],
                window,
                page,
            )
            .await?;
        let signs = self.options.amount_signs;
        self.report_page(answer.transactions, &answer.links, &url, |report| {
            mapping::transactions(report, signs)
        })
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
            let fetched = match (&raw.resource_id, raw.balances.is_empty()) {
                (Some(id), true) => {
                    let read = self
                        .balances(
                            &secret,
                            &raw.links,
                            &["v1", "card-accounts", id, "balances"],
                        )
                        .await?;
                    debit_accounting = read.debit_accounting.unwrap_or(debit_accounting);
                    Some(read.balances)
                }
                _ => None,
            };
            cards.push(mapping::card(raw, fetched, debit_accounting)?);
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
        self.report_page(answer.card_transactions, &answer.links, &url, |report| {
            mapping::card_transactions(report, debit_accounting)
        })
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

/// The `next` link of a report, refusing one that points back at the page just read (a
/// bank doing that would keep the engine paging forever) or at another host (the consent
/// would travel there).
fn next_cursor(
    links: &wire::Links,
    current: &Url,
    client: &BankClient,
) -> Result<Option<PageCursor>, ConnectorError> {
    let Some(next) = links.get("next") else {
        return Ok(None);
    };
    if client.resolve_api_link(next)? == *current {
        return Err(errors::protocol(
            "the next page link points at the same page",
            next,
        ));
    }
    Ok(Some(PageCursor(next.to_owned())))
}
