//! The Berlin Group NextGenPSD2 (XS2A) account-information connector.
//!
//! Sign-in is the redirect SCA approach: a consent for all PSD2 data is created, the owner
//! approves it at the bank's `scaRedirect` page, and the consent id becomes the session.

mod client;
mod errors;
mod mapping;
mod wire;

use aisle_sdk::{
    Account, BankProfile, BankSession, Card, CardTransaction, Connector, ConnectorError,
    DateWindow, Owner, Page, PageCursor, SignInCallback, SignInProgress, SignInRequest, SignInStep,
    Transaction, TransactionStatus,
};
use async_trait::async_trait;
use chrono::{Days, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;
use url::Url;

use crate::client::{BankClient, parse};
use crate::errors::Request;

/// The Berlin Group profile defaults; the bank registry overrides them per bank.
pub fn default_profile() -> BankProfile {
    BankProfile::default()
}

/// A connector to one Berlin Group bank.
#[derive(Debug, Clone)]
pub struct BerlinGroupConnector {
    client: BankClient,
    profile: BankProfile,
}

impl BerlinGroupConnector {
    /// `base_url` is the bank's XS2A root (the part before `/v1`); `http` carries the
    /// service's timeouts.
    pub fn new(base_url: Url, profile: BankProfile, http: reqwest::Client) -> Self {
        Self {
            client: BankClient::new(base_url, http),
            profile,
        }
    }

    fn booking_status(&self) -> &'static str {
        if self.profile.supports.pending {
            "both"
        } else {
            "booked"
        }
    }

    /// The URL of a transactions page: the bank's `next` link, or the first page of `window`.
    fn report_url(
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

    async fn account_list(
        &self,
        session: &BankSession,
        with_balance: bool,
    ) -> Result<Vec<wire::AccountDetails>, ConnectorError> {
        let mut url = self.client.endpoint(&["v1", "accounts"])?;
        url.query_pairs_mut()
            .append_pair("withBalance", if with_balance { "true" } else { "false" });
        let list: wire::AccountList = self
            .client
            .get(url, &session.secret, Request::Other)
            .await?;
        Ok(list.accounts)
    }
}

/// The `next` link of a report, refusing one that points back at the page just read: a bank
/// doing that would keep the engine paging forever.
fn next_cursor(
    links: &wire::Links,
    current: &Url,
    client: &BankClient,
) -> Result<Option<PageCursor>, ConnectorError> {
    let Some(next) = links.get("next") else {
        return Ok(None);
    };
    if client.resolve_api_link(&next.href)? == *current {
        return Err(ConnectorError::protocol(
            "the next page link points at the same page",
            &next.href,
        ));
    }
    Ok(Some(PageCursor(next.href.clone())))
}

#[async_trait]
impl Connector for BerlinGroupConnector {
    fn profile(&self) -> &BankProfile {
        &self.profile
    }

    async fn begin_sign_in(&self, request: &SignInRequest) -> Result<SignInStep, ConnectorError> {
        let url = self.client.endpoint(&["v1", "consents"])?;
        let valid_until = Utc::now()
            .date_naive()
            .checked_add_days(Days::new(1))
            .ok_or_else(|| ConnectorError::protocol("the calendar ran out", ""))?;
        // Single access: one import, so a short, non-recurring consent is all we ask for.
        let body = json!({
            "access": {"allPsd2": "allAccounts"},
            "recurringIndicator": false,
            "validUntil": valid_until.to_string(),
            "frequencyPerDay": 4,
            "combinedServiceIndicator": false,
        });
        let mut builder = self
            .client
            .request(Method::POST, url, None)
            .header("TPP-Redirect-URI", &request.redirect_uri)
            .header("TPP-Redirect-Preferred", "true")
            .json(&body);
        if let Some(psu_id) = &request.psu_id {
            builder = builder.header("PSU-ID", psu_id);
        }
        if let Some(ip) = &request.psu_ip_address {
            builder = builder.header("PSU-IP-Address", ip);
        }
        let answer = self.client.send(builder, Request::Other).await?;
        let created: wire::ConsentCreated = parse(&answer.body)?;
        let redirect = created.links.get("scaRedirect").ok_or_else(|| {
            ConnectorError::protocol("the consent has no scaRedirect link", &answer.body)
        })?;
        Ok(SignInStep::Redirect {
            url: self.client.resolve_link(&redirect.href)?.to_string(),
            pending: created.consent_id,
        })
    }

    async fn complete_sign_in(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError> {
        let url = self
            .client
            .endpoint(&["v1", "consents", &callback.pending, "status"])?;
        let builder = self.client.request(Method::GET, url, None);
        let answer = self.client.send(builder, Request::Other).await?;
        let status: wire::ConsentStatus = parse(&answer.body)?;
        match status.consent_status.as_str() {
            "valid" => Ok(SignInProgress::Done(BankSession {
                secret: callback.pending.clone(),
                sca_at: Utc::now(),
            })),
            "rejected" => Err(ConnectorError::InvalidCredentials),
            "expired" | "revokedByPsu" | "terminatedByTpp" => Err(ConnectorError::ConsentExpired),
            _ => Err(ConnectorError::ScaRequired),
        }
    }

    async fn owners(&self, session: &BankSession) -> Result<Vec<Owner>, ConnectorError> {
        let accounts = self.account_list(session, false).await?;
        Ok(mapping::owners(&accounts))
    }

    async fn accounts(&self, session: &BankSession) -> Result<Vec<Account>, ConnectorError> {
        let listed = self.account_list(session, true).await?;
        let mut accounts = Vec::with_capacity(listed.len());
        for raw in listed {
            // Banks that ignore withBalance leave the balances to a call of their own.
            let fetched = match (&raw.resource_id, raw.balances.is_empty()) {
                (Some(id), true) => {
                    let url = match raw.links.get("balances") {
                        Some(link) => self.client.resolve_api_link(&link.href)?,
                        None => self.client.endpoint(&["v1", "accounts", id, "balances"])?,
                    };
                    let answer: wire::BalancesResponse = self
                        .client
                        .get(url, &session.secret, Request::Other)
                        .await?;
                    Some(answer.balances)
                }
                _ => None,
            };
            accounts.push(mapping::account(raw, fetched)?);
        }
        Ok(accounts)
    }

    async fn transactions(
        &self,
        session: &BankSession,
        account: &Account,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<Transaction>, ConnectorError> {
        let url = self.report_url(
            &["v1", "accounts", &account.bank_id, "transactions"],
            window,
            page,
        )?;
        let answer: wire::TransactionsResponse = self
            .client
            .get(url.clone(), &session.secret, Request::Transactions)
            .await?;
        let Some(report) = answer.transactions else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let next = next_cursor(&report.links, &url, &self.client)?;
        let booked = report
            .booked
            .into_iter()
            .map(|t| mapping::transaction(t, TransactionStatus::Booked));
        let pending = report
            .pending
            .into_iter()
            .map(|t| mapping::transaction(t, TransactionStatus::Pending));
        Ok(Page {
            items: booked.chain(pending).collect::<Result<_, _>>()?,
            next,
        })
    }

    async fn cards(&self, session: &BankSession) -> Result<Vec<Card>, ConnectorError> {
        let url = self.client.endpoint(&["v1", "card-accounts"])?;
        let list: wire::CardAccountList = self
            .client
            .get(url, &session.secret, Request::Other)
            .await?;
        list.card_accounts.into_iter().map(mapping::card).collect()
    }

    async fn card_transactions(
        &self,
        session: &BankSession,
        card: &Card,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<CardTransaction>, ConnectorError> {
        let url = self.report_url(
            &["v1", "card-accounts", &card.bank_id, "transactions"],
            window,
            page,
        )?;
        let answer: wire::CardTransactionsResponse = self
            .client
            .get(url.clone(), &session.secret, Request::Transactions)
            .await?;
        let debit_accounting = answer.debit_accounting.unwrap_or(false);
        let Some(report) = answer.card_transactions else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let next = next_cursor(&report.links, &url, &self.client)?;
        let booked = report
            .booked
            .into_iter()
            .map(|t| mapping::card_transaction(t, TransactionStatus::Booked, debit_accounting));
        let pending = report
            .pending
            .into_iter()
            .map(|t| mapping::card_transaction(t, TransactionStatus::Pending, debit_accounting));
        Ok(Page {
            items: booked.chain(pending).collect::<Result<_, _>>()?,
            next,
        })
    }

    async fn end_session(&self, session: &BankSession) -> Result<(), ConnectorError> {
        let url = self.client.endpoint(&["v1", "consents", &session.secret])?;
        let answer = self
            .client
            .send_raw(self.client.request(Method::DELETE, url, None))
            .await?;
        if answer.status.is_success() || answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        match answer.error(Request::Other) {
            // Already gone is what we wanted.
            ConnectorError::ConsentExpired => Ok(()),
            error => Err(error),
        }
    }
}
