//! The AIS reads against a scripted bank serving the spec's examples: accounts and balances,
//! transaction reports and their pages, card accounts, their balances and reports.

mod common;

use std::str::FromStr;

use aisle_berlin_group::{AmountSigns, BerlinGroupConnector, ConsentMode};
use aisle_sdk::{
    Account, BankProfile, Card, Connector, ConnectorError, Transaction, TransactionStatus,
};
use common::{
    Bank, CARD, CONSENT_ID, EUR_ACCOUNT, USD_ACCOUNT, header, october_2017, query, session,
};
use rust_decimal::Decimal;
use serde_json::json;
use wiremock::matchers::{header as has_header, header_exists, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

fn money(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

fn accounts_path() -> &'static str {
    "/psd2/v1/accounts"
}

fn balances_path(account: &str) -> String {
    format!("/psd2/v1/accounts/{account}/balances")
}

fn transactions_path(account: &str) -> String {
    format!("/psd2/v1/accounts/{account}/transactions")
}

async fn serve_get(bank: &Bank, at: &str, answer: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path(at))
        .and(has_header("Consent-ID", CONSENT_ID))
        .and(header_exists("X-Request-ID"))
        .respond_with(bank.answer(answer))
        .expect(times)
        .mount(&bank.server)
        .await;
}

/// Serves each account's balances: (resource id, fixture, how many reads are expected).
async fn serve_balances(bank: &Bank, answers: &[(&str, &str, u64)]) {
    for (account, answer, times) in answers {
        serve_get(bank, &balances_path(account), answer, *times).await;
    }
}

/// Serves the EUR account's transaction report, expected `times` times.
async fn serve_report(bank: &Bank, answer: &str, times: u64) {
    serve_get(bank, &transactions_path(EUR_ACCOUNT), answer, times).await;
}

/// Serves a report in two pages, each read once under the consent: the first asked for
/// October 2017 with both booking statuses, the second through its `?page=2` link.
async fn serve_two_pages(bank: &Bank, report: &str, first: &str, second: &str) {
    Mock::given(method("GET"))
        .and(path(report))
        .and(query_param("page", "2"))
        .and(has_header("Consent-ID", CONSENT_ID))
        .respond_with(bank.answer(second))
        .with_priority(1)
        .expect(1)
        .mount(&bank.server)
        .await;
    Mock::given(method("GET"))
        .and(path(report))
        .and(query_param("dateFrom", "2017-10-01"))
        .and(query_param("dateTo", "2017-10-31"))
        .and(query_param("bookingStatus", "both"))
        .and(has_header("Consent-ID", CONSENT_ID))
        .respond_with(bank.answer(first))
        .expect(1)
        .mount(&bank.server)
        .await;
}

fn balances_of(account: &Account) -> Vec<(&str, Decimal, &str)> {
    account
        .balances
        .iter()
        .map(|b| (b.balance_type.as_str(), b.amount, b.currency.as_str()))
        .collect()
}

#[tokio::test]
async fn accounts_come_with_the_balances_asked_for_in_the_list() {
    let bank = Bank::start().await;
    Mock::given(method("GET"))
        .and(path(accounts_path()))
        .and(query_param("withBalance", "true"))
        .and(has_header("Consent-ID", CONSENT_ID))
        .respond_with(bank.answer("account-list-with-balances.json"))
        .expect(1)
        .mount(&bank.server)
        .await;
    // The first account's balances came inline; only the second needs a call.
    serve_balances(
        &bank,
        &[
            (EUR_ACCOUNT, "balances-regular.json", 0),
            (USD_ACCOUNT, "balances-running.json", 1),
        ],
    )
    .await;

    let accounts = bank
        .connector()
        .accounts(&session())
        .await
        .expect("accounts");

    assert_eq!(accounts.len(), 2);
    let main = &accounts[0];
    assert_eq!(main.bank_id, EUR_ACCOUNT);
    assert_eq!(main.iban.as_deref(), Some("DE2310010010123456789"));
    assert_eq!(main.name.as_deref(), Some("Main Account"));
    assert_eq!(main.product.as_deref(), Some("Girokonto"));
    assert_eq!(main.account_type.as_deref(), Some("CACC"));
    assert_eq!(
        balances_of(main),
        [
            ("closingBooked", money("500.00"), "EUR"),
            ("expected", money("900.00"), "EUR")
        ]
    );
    assert_eq!(
        main.balances[0].reference_date.map(|d| d.to_string()),
        Some("2017-10-25".to_owned())
    );
    assert_eq!(accounts[1].currency, "USD");
    assert_eq!(
        balances_of(&accounts[1]),
        [
            ("interimBooked", money("1000.00"), "EUR"),
            ("interimAvailable", money("300.00"), "EUR"),
            ("interimAvailable", money("5300.00"), "EUR")
        ]
    );
}

#[tokio::test]
async fn balances_are_read_per_account_when_the_list_is_not_asked_for_them() {
    let bank = Bank::start().await;
    serve_get(&bank, accounts_path(), "account-list.json", 1).await;
    serve_balances(
        &bank,
        &[
            (EUR_ACCOUNT, "balances-regular.json", 1),
            (USD_ACCOUNT, "balances-running.json", 1),
        ],
    )
    .await;
    let connector = bank.connector().with_balances_in_account_list(false);

    let accounts = connector.accounts(&session()).await.expect("accounts");

    assert_eq!(accounts[0].balances.len(), 2);
    assert_eq!(accounts[1].balances.len(), 3);
    let list = &bank.received_at(accounts_path()).await[0];
    assert!(query(list).is_empty(), "withBalance is not sent at all");
}

#[tokio::test]
async fn a_bank_refusing_with_balance_is_asked_again_without_it() {
    let bank = Bank::start().await;
    Mock::given(method("GET"))
        .and(path(accounts_path()))
        .and(query_param("withBalance", "true"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "tppMessages": [{"category": "ERROR", "code": "PARAMETER_NOT_SUPPORTED",
                             "text": "withBalance is not supported"}]
        })))
        .with_priority(1)
        .expect(1)
        .mount(&bank.server)
        .await;
    serve_get(&bank, accounts_path(), "account-list.json", 1).await;
    serve_balances(
        &bank,
        &[
            (EUR_ACCOUNT, "balances-regular.json", 1),
            (USD_ACCOUNT, "balances-regular.json", 1),
        ],
    )
    .await;

    let accounts = bank
        .connector()
        .accounts(&session())
        .await
        .expect("accounts");
    assert!(accounts.iter().all(|a| a.balances.len() == 2));
}

#[tokio::test]
async fn a_multicurrency_account_keeps_each_balance_in_its_own_currency() {
    let bank = Bank::start().await;
    serve_get(&bank, accounts_path(), "account-list-multicurrency.json", 1).await;
    // The aggregation account links its balances under another id than its own; the link wins.
    serve_balances(
        &bank,
        &[
            (
                "3dc3d5b3-7023-4848-9853-f5400a64e333",
                "balances-multicurrency.json",
                1,
            ),
            (
                "3dc3d5b3-7023-4848-9853-f5400a64e80e",
                "balances-regular.json",
                1,
            ),
            (
                "3dc3d5b3-7023-4848-9853-f5400a64e81d",
                "balances-regular.json",
                1,
            ),
        ],
    )
    .await;

    let accounts = bank
        .connector()
        .accounts(&session())
        .await
        .expect("accounts");

    let aggregate = &accounts[0];
    assert_eq!(aggregate.currency, "XXX");
    assert_eq!(
        balances_of(aggregate),
        [
            ("closingBooked", money("500.00"), "EUR"),
            ("expected", money("900.00"), "EUR"),
            ("closingBooked", money("350.00"), "USD"),
            ("expected", money("350.00"), "USD")
        ]
    );
    assert_eq!(accounts[2].currency, "USD");
}

fn account() -> Account {
    Account::new(EUR_ACCOUNT, "EUR")
}

async fn one_page(connector: &BerlinGroupConnector) -> Vec<Transaction> {
    let page = connector
        .transactions(&session(), &account(), october_2017(), None)
        .await
        .expect("transactions");
    assert!(page.next.is_none());
    page.items
}

fn amounts(rows: &[Transaction]) -> Vec<(Option<&str>, Decimal, &str)> {
    rows.iter()
        .map(|t| (t.bank_id.as_deref(), t.amount, t.currency.as_str()))
        .collect()
}

#[tokio::test]
async fn transactions_are_asked_for_the_window_with_both_booking_statuses() {
    let bank = Bank::start().await;
    Mock::given(method("GET"))
        .and(path(transactions_path(EUR_ACCOUNT)))
        .and(query_param("dateFrom", "2017-10-01"))
        .and(query_param("dateTo", "2017-10-31"))
        .and(query_param("bookingStatus", "both"))
        .and(has_header("Consent-ID", CONSENT_ID))
        .and(header_exists("X-Request-ID"))
        .respond_with(bank.answer("transactions-regular.json"))
        .expect(1)
        .mount(&bank.server)
        .await;

    let rows = one_page(&bank.connector()).await;

    assert_eq!(
        amounts(&rows),
        [
            (Some("1234567"), money("-256.67"), "EUR"),
            (Some("1234568"), money("343.01"), "EUR"),
            (Some("1234569"), money("-100.03"), "EUR")
        ]
    );
    let statuses: Vec<TransactionStatus> = rows.iter().map(|t| t.status).collect();
    use TransactionStatus::{Booked, Pending};
    assert_eq!(statuses, [Booked, Booked, Pending]);
    let john = &rows[0];
    assert_eq!(john.counterparty_name.as_deref(), Some("John Miles"));
    assert_eq!(
        john.counterparty_account.as_deref(),
        Some("DE67100100101306118605")
    );
    assert_eq!(john.description.as_deref(), Some("Example 1"));
    assert_eq!(
        john.booking_date.map(|d| d.to_string()),
        Some("2017-10-25".to_owned())
    );
    assert_eq!(
        john.value_date.map(|d| d.to_string()),
        Some("2017-10-26".to_owned())
    );
    let paul = &rows[1];
    assert_eq!(paul.counterparty_name.as_deref(), Some("Paul Simpson"));
    assert_eq!(
        paul.counterparty_account.as_deref(),
        Some("NL76RABO0359400371")
    );
    assert_eq!(rows[2].booking_date, None);
}

#[tokio::test]
async fn a_bank_without_pending_rows_is_asked_for_booked_ones_only() {
    let bank = Bank::start().await;
    Mock::given(method("GET"))
        .and(path(transactions_path(EUR_ACCOUNT)))
        .and(query_param("bookingStatus", "booked"))
        .respond_with(bank.answer("transactions-regular.json"))
        .expect(1)
        .mount(&bank.server)
        .await;
    let mut profile = BankProfile::default();
    profile.supports.pending = false;
    let connector = BerlinGroupConnector::new(bank.base(), profile, reqwest::Client::new());
    one_page(&connector).await;
}

#[tokio::test]
async fn transaction_pages_are_followed_through_the_next_link() {
    let bank = Bank::start().await;
    serve_two_pages(
        &bank,
        &transactions_path(EUR_ACCOUNT),
        "transactions-page-1.json",
        "transactions-page-2.json",
    )
    .await;
    let connector = bank.connector();

    let first = connector
        .transactions(&session(), &account(), october_2017(), None)
        .await
        .expect("page 1");
    let next = first.next.expect("a second page");
    let second = connector
        .transactions(&session(), &account(), october_2017(), Some(&next))
        .await
        .expect("page 2");

    assert_eq!(first.items.len(), 3);
    assert_eq!(
        amounts(&second.items),
        [(Some("1234571"), money("-256.67"), "EUR")]
    );
    assert_eq!(
        second.items[0].bank_transaction_code.as_deref(),
        Some("PMNT-RDDT-ESDD")
    );
    assert!(second.next.is_none());
}

#[tokio::test]
async fn a_multicurrency_report_keeps_each_rows_own_currency() {
    let bank = Bank::start().await;
    serve_report(&bank, "transactions-multicurrency.json", 1).await;
    let rows = one_page(&bank.connector()).await;
    assert_eq!(
        amounts(&rows),
        [
            (Some("1234567"), money("-256.67"), "EUR"),
            (Some("1234568"), money("343.01"), "EUR"),
            (Some("1234569"), money("100"), "USD"),
            (Some("1234570"), money("-100.03"), "EUR")
        ]
    );
}

#[tokio::test]
async fn unsigned_amounts_are_signed_by_the_side_the_counterparty_is_named_on() {
    let bank = Bank::start().await;
    serve_report(&bank, "transactions-unsigned.json", 2).await;
    let rows = one_page(&bank.connector()).await;
    assert_eq!(
        amounts(&rows),
        [
            (Some("1234567"), money("-256.67"), "EUR"),
            (Some("1234568"), money("343.01"), "EUR"),
            (Some("1234569"), money("-100.03"), "EUR")
        ]
    );
    assert_eq!(rows[0].counterparty_name.as_deref(), Some("John Miles"));
    // A bank pinned to signed amounts is taken at its word.
    let signed = bank.connector().with_amount_signs(AmountSigns::Signed);
    let rows = one_page(&signed).await;
    assert_eq!(rows[0].amount, money("256.67"));
}

#[tokio::test]
async fn amounts_with_a_plus_sign_are_credits() {
    let bank = Bank::start().await;
    serve_report(&bank, "transactions-plus-signed.json", 1).await;
    let rows = one_page(&bank.connector()).await;
    assert_eq!(rows[1].amount, money("343.01"));
    assert_eq!(rows[2].amount, money("100"));
    assert_eq!(rows[2].counterparty_name.as_deref(), Some("Pepe Martin"));
}

#[tokio::test]
async fn what_real_banks_add_or_leave_out_is_tolerated() {
    let bank = Bank::start().await;
    serve_report(&bank, "transactions-lenient.json", 1).await;
    let rows = one_page(&bank.connector()).await;
    assert_eq!(rows.len(), 2);
    let john = &rows[0];
    assert_eq!(john.counterparty_name.as_deref(), Some("John Miles"));
    assert_eq!(john.counterparty_account, None, "an empty creditorAccount");
    let paul = &rows[1];
    assert_eq!(paul.bank_id.as_deref(), Some("ER-1234568"));
    assert_eq!(paul.amount, money("343.01"), "a JSON number, read exactly");
    assert_eq!(
        paul.counterparty_account.as_deref(),
        Some("NL76RABO0359400371"),
        "an array-valued debtorAccount"
    );
    assert_eq!(paul.booking_date, None);
    assert_eq!(paul.description.as_deref(), Some("Example 2 March"));
}

#[tokio::test]
async fn a_report_offered_only_as_a_download_is_unsupported() {
    let bank = Bank::start().await;
    serve_report(&bank, "transactions-download.json", 1).await;
    assert!(matches!(
        bank.connector()
            .transactions(&session(), &account(), october_2017(), None)
            .await,
        Err(ConnectorError::Unsupported(_))
    ));
}

#[tokio::test]
async fn card_accounts_come_with_their_balances_and_credit_limit() {
    let bank = Bank::start().await;
    serve_get(&bank, "/psd2/v1/card-accounts", "card-account-list.json", 1).await;
    let cards = bank.connector().cards(&session()).await.expect("cards");
    assert_eq!(cards.len(), 1);
    let card = &cards[0];
    assert_eq!(card.bank_id, CARD);
    assert_eq!(card.masked_pan.as_deref(), Some("525412******3241"));
    assert_eq!(card.name.as_deref(), Some("Main"));
    assert_eq!(card.credit_limit, Some(money("15000")));
    let balances: Vec<(&str, Decimal)> = card
        .balances
        .iter()
        .map(|b| (b.balance_type.as_str(), b.amount))
        .collect();
    assert_eq!(
        balances,
        [
            ("interimBooked", money("14355.78")),
            ("nonInvoiced", money("4175.86"))
        ]
    );
}

#[tokio::test]
async fn card_balances_read_apart_follow_debit_accounting() {
    let bank = Bank::start().await;
    serve_get(
        &bank,
        "/psd2/v1/card-accounts",
        "card-account-list-without-balances.json",
        1,
    )
    .await;
    serve_get(
        &bank,
        &format!("/psd2/v1/card-accounts/{CARD}/balances"),
        "card-balances.json",
        1,
    )
    .await;
    let cards = bank.connector().cards(&session()).await.expect("cards");
    // debitAccounting: debt is quoted positive, and Aisle's debits are negative.
    let amounts: Vec<Decimal> = cards[0].balances.iter().map(|b| b.amount).collect();
    assert_eq!(amounts, [money("-14355.78"), money("-4175.86")]);
    assert_eq!(cards[0].credit_limit, Some(money("15000")));
}

fn card() -> Card {
    Card {
        bank_id: CARD.to_owned(),
        masked_pan: Some("525412******3241".to_owned()),
        name: None,
        currency: "EUR".to_owned(),
        credit_limit: None,
        balances: Vec::new(),
        balances_unavailable: None,
    }
}

#[tokio::test]
async fn card_transactions_are_paged_and_purchases_become_debits() {
    let bank = Bank::start().await;
    serve_two_pages(
        &bank,
        &format!("/psd2/v1/card-accounts/{CARD}/transactions"),
        "card-transactions-page-1.json",
        "card-transactions-page-2.json",
    )
    .await;
    let connector = bank.connector();

    let first = connector
        .card_transactions(&session(), &card(), october_2017(), None)
        .await
        .expect("page 1");
    let next = first.next.clone().expect("a second page");
    let second = connector
        .card_transactions(&session(), &card(), october_2017(), Some(&next))
        .await
        .expect("page 2");

    let purchase = &first.items[0];
    assert_eq!(purchase.amount, money("-15.00"));
    assert_eq!(purchase.original_amount, Some(money("-150.00")));
    assert_eq!(purchase.original_currency.as_deref(), Some("SEK"));
    assert_eq!(
        purchase.merchant_name.as_deref(),
        Some("WIFIMARKET, GOTEBORG")
    );
    assert_eq!(purchase.merchant_category_code.as_deref(), Some("5411"));
    assert_eq!(purchase.status, TransactionStatus::Booked);
    let refund = &first.items[1];
    assert_eq!(refund.amount, money("4.00"));
    assert_eq!(refund.status, TransactionStatus::Pending);
    // Page 2 leaves debitAccounting out: the spec's default, debits already negative.
    assert_eq!(second.items[0].amount, money("-9.90"));
    assert!(second.next.is_none());
}

#[tokio::test]
async fn a_dedicated_accounts_consent_has_no_cards_to_read() {
    let bank = Bank::start().await;
    serve_get(&bank, "/psd2/v1/card-accounts", "card-account-list.json", 0).await;
    let connector = bank
        .connector()
        .with_consent_mode(ConsentMode::DedicatedAccounts);
    assert!(matches!(
        connector.cards(&session()).await,
        Err(ConnectorError::Unsupported(_))
    ));
}

#[tokio::test]
async fn scope_the_profile_turns_off_is_unsupported_without_asking_the_bank() {
    let bank = Bank::start().await;
    let mut profile = BankProfile::default();
    profile.supports.owners = false;
    profile.supports.transactions = false;
    profile.supports.cards = false;
    let connector = BerlinGroupConnector::new(bank.base(), profile, reqwest::Client::new());
    assert!(matches!(
        connector.owners(&session()).await,
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        connector
            .transactions(&session(), &account(), october_2017(), None)
            .await,
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        connector.cards(&session()).await,
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        connector
            .card_transactions(&session(), &card(), october_2017(), None)
            .await,
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(bank.received().await.is_empty());
}

#[tokio::test]
async fn owners_are_named_from_the_account_list() {
    let bank = Bank::start().await;
    let mut list = bank.body("account-list.json");
    // accountDetailsRegularAccount names its owner; the list examples do not.
    list["accounts"][0]["ownerName"] = json!("Heike Mustermann");
    Mock::given(method("GET"))
        .and(path(accounts_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(list))
        .expect(1)
        .mount(&bank.server)
        .await;
    let owners = bank.connector().owners(&session()).await.expect("owners");
    let names: Vec<&str> = owners.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["Heike Mustermann"]);
    let list = &bank.received_at(accounts_path()).await[0];
    assert!(query(list).is_empty(), "no balances asked for owners");
    assert_eq!(header(list, "Consent-ID"), Some(CONSENT_ID));
}

#[tokio::test]
async fn a_legacy_session_holding_only_the_consent_id_still_reads() {
    let bank = Bank::start().await;
    serve_get(&bank, accounts_path(), "account-list.json", 1).await;
    serve_balances(
        &bank,
        &[
            (EUR_ACCOUNT, "balances-regular.json", 1),
            (USD_ACCOUNT, "balances-regular.json", 1),
        ],
    )
    .await;
    let legacy = aisle_sdk::BankSession {
        secret: CONSENT_ID.to_owned(),
        sca_at: chrono::Utc::now(),
    };
    let connector = bank.connector().with_balances_in_account_list(false);
    assert_eq!(
        connector.accounts(&legacy).await.expect("accounts").len(),
        2
    );
}
