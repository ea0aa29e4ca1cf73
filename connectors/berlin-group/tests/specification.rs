//! Issue 14: the connector against banks built from the NextGenPSD2 1.3.12 document alone —
//! its examples (fixtures/berlin-group), its SCA approaches and its headers.

mod common;

use std::collections::BTreeMap;

use aisle_berlin_group::{OTP_FIELD, PASSWORD_FIELD, PSU_ID_FIELD, SCA_METHOD_FIELD};
use aisle_sdk::{
    Account, Connector, ConnectorError, PageCursor, SignInCallback, SignInProgress, SignInStep,
};
use common::{Bank, CONSENT_ID, EUR_ACCOUNT, header, october_2017, session, sign_in_request};
use rust_decimal::Decimal;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, ResponseTemplate};

const CONSENTS: &str = "/psd2/v1/consents";
const AUTHORISATION: &str = "/psd2/v1/consents/1234-wertiq-983/authorisations/123auth456";

fn consent(suffix: &str) -> String {
    format!("{CONSENTS}/{CONSENT_ID}{suffix}")
}

fn answer(pending: String, params: &[(&str, &str)]) -> SignInCallback {
    SignInCallback {
        pending,
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

async fn mount(bank: &Bank, verb: &str, at: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(response)
        .mount(&bank.server)
        .await;
}

async fn mount_valid_consent(bank: &Bank) {
    mount(
        bank,
        "GET",
        &consent("/status"),
        bank.answer("consent-status-valid.json"),
    )
    .await;
    mount(
        bank,
        "GET",
        &consent(""),
        bank.answer("consent-information.json"),
    )
    .await;
}

async fn deletes(bank: &Bank) -> usize {
    bank.received_at(&consent(""))
        .await
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .count()
}

fn account() -> Account {
    Account::new(EUR_ACCOUNT, "EUR")
}

#[tokio::test]
async fn an_ipv4_mapped_owner_address_goes_to_the_bank_as_the_ipv4_it_is() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-redirect.json"),
    )
    .await;
    let mut request = sign_in_request();
    request.psu_ip_address = Some("::ffff:192.0.2.10".to_owned());
    bank.connector()
        .begin_sign_in(&request)
        .await
        .expect("begun");
    let sent = &bank.received_at(CONSENTS).await[0];
    assert_eq!(header(sent, "PSU-IP-Address"), Some("192.0.2.10"));
}

#[tokio::test]
async fn a_sign_in_without_the_owners_address_sends_the_tpps_when_configured() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-redirect.json"),
    )
    .await;
    let mut request = sign_in_request();
    request.psu_ip_address = Some("2001:db8::7".to_owned());
    bank.connector()
        .with_tpp_ip_address("198.51.100.4".parse().expect("ip"))
        .begin_sign_in(&request)
        .await
        .expect("begun");
    let sent = &bank.received_at(CONSENTS).await[0];
    assert_eq!(header(sent, "PSU-IP-Address"), Some("198.51.100.4"));
}

#[tokio::test]
async fn a_bank_that_loops_its_next_links_over_two_pages_is_a_protocol_error() {
    let bank = Bank::start().await;
    let report =
        |next: &str| json!({"transactions": {"booked": [], "_links": {"next": {"href": next}}}});
    let first = format!("/psd2/v1/accounts/{EUR_ACCOUNT}/transactions");
    let page_b = format!("{first}?page=b");
    let page_a = format!("{first}?dateFrom=2017-10-01&dateTo=2017-10-31&bookingStatus=both");
    Mock::given(method("GET"))
        .and(path(&first))
        .and(wiremock::matchers::query_param("page", "b"))
        .respond_with(ResponseTemplate::new(200).set_body_json(report(&page_a)))
        .mount(&bank.server)
        .await;
    mount(
        &bank,
        "GET",
        &first,
        ResponseTemplate::new(200).set_body_json(report(&page_b)),
    )
    .await;
    let connector = bank.connector();
    let a = connector
        .transactions(&session(), &account(), october_2017(), None)
        .await
        .expect("page A");
    let b = connector
        .transactions(&session(), &account(), october_2017(), a.next.as_ref())
        .await;
    assert!(
        matches!(b, Err(ConnectorError::Protocol { .. })),
        "page B links back to page A: {b:?}"
    );
}

#[tokio::test]
async fn a_next_link_to_a_payment_endpoint_is_refused_without_being_called() {
    let bank = Bank::start().await;
    let first = format!("/psd2/v1/accounts/{EUR_ACCOUNT}/transactions");
    let body = json!({"transactions": {"booked": [],
        "_links": {"next": {"href": "/psd2/v1/payments/sepa-credit-transfers"}}}});
    mount(
        &bank,
        "GET",
        &first,
        ResponseTemplate::new(200).set_body_json(body),
    )
    .await;
    let page = bank
        .connector()
        .transactions(&session(), &account(), october_2017(), None)
        .await;
    assert!(
        matches!(page, Err(ConnectorError::Protocol { .. })),
        "{page:?}"
    );
    // A cursor handed in from elsewhere is checked the same way.
    let cursor = PageCursor("/psd2/v1/payments/sepa-credit-transfers".to_owned());
    let page = bank
        .connector()
        .transactions(&session(), &account(), october_2017(), Some(&cursor))
        .await;
    assert!(
        matches!(page, Err(ConnectorError::Protocol { .. })),
        "{page:?}"
    );
    assert!(
        bank.received_at("/psd2/v1/payments/sepa-credit-transfers")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_consent_whose_read_back_fails_is_deleted_before_the_sign_in_fails() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-redirect.json"),
    )
    .await;
    mount(
        &bank,
        "GET",
        &consent("/status"),
        bank.answer("consent-status-valid.json"),
    )
    .await;
    mount(&bank, "GET", &consent(""), ResponseTemplate::new(503)).await;
    mount(&bank, "DELETE", &consent(""), ResponseTemplate::new(204)).await;
    let connector = bank.connector();
    let SignInStep::Redirect { pending, .. } = connector
        .begin_sign_in(&sign_in_request())
        .await
        .expect("begun")
    else {
        panic!("a redirect");
    };
    let done = connector.complete_sign_in(&answer(pending, &[])).await;
    assert!(
        matches!(done, Err(ConnectorError::Transient(_))),
        "{done:?}"
    );
    assert_eq!(deletes(&bank).await, 1);
}

#[tokio::test]
async fn an_owner_who_refuses_at_the_bank_leaves_no_consent_behind() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-redirect.json"),
    )
    .await;
    mount(&bank, "DELETE", &consent(""), ResponseTemplate::new(204)).await;
    let connector = bank.connector();
    let SignInStep::Redirect { pending, .. } = connector
        .begin_sign_in(&sign_in_request())
        .await
        .expect("begun")
    else {
        panic!("a redirect");
    };
    let done = connector
        .complete_sign_in(&answer(pending, &[("error", "access_denied")]))
        .await;
    assert_eq!(done.err(), Some(ConnectorError::InvalidCredentials));
    assert_eq!(deletes(&bank).await, 1);
}

#[tokio::test]
async fn the_spec_s_mixed_page_imports_john_miles_as_a_debit_with_his_name() {
    let bank = Bank::start().await;
    let first = format!("/psd2/v1/accounts/{EUR_ACCOUNT}/transactions");
    mount(
        &bank,
        "GET",
        &first,
        bank.answer("transactions-mixed-spec.json"),
    )
    .await;
    let page = bank
        .connector()
        .transactions(&session(), &account(), october_2017(), None)
        .await
        .expect("page");
    let john = &page.items[0];
    assert_eq!(john.amount, Decimal::new(-25667, 2));
    assert_eq!(john.counterparty_name.as_deref(), Some("John Miles"));
    assert_eq!(page.items[1].amount, Decimal::new(34301, 2));
    assert_eq!(
        page.items[1].counterparty_name.as_deref(),
        Some("Paul Simpson")
    );
    assert_eq!(page.items[2].amount, Decimal::new(-10003, 2));
    assert_eq!(
        page.items[2].counterparty_name.as_deref(),
        Some("Claude Renault")
    );
}

#[tokio::test]
async fn the_consent_asks_for_one_read_a_day_as_one_off_access_requires() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-redirect.json"),
    )
    .await;
    bank.connector()
        .begin_sign_in(&sign_in_request())
        .await
        .expect("begun");
    let sent: serde_json::Value =
        serde_json::from_slice(&bank.received_at(CONSENTS).await[0].body).expect("json");
    assert_eq!(sent["recurringIndicator"], json!(false));
    assert_eq!(sent["frequencyPerDay"], json!(1));
}

async fn redirect_sign_in_read_back(
    bank: &Bank,
    read_back: &str,
) -> Result<SignInProgress, ConnectorError> {
    mount(
        bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-redirect.json"),
    )
    .await;
    mount(
        bank,
        "GET",
        &consent("/status"),
        bank.answer("consent-status-valid.json"),
    )
    .await;
    mount(bank, "GET", &consent(""), bank.answer(read_back)).await;
    mount(bank, "DELETE", &consent(""), ResponseTemplate::new(204)).await;
    let connector = bank.connector();
    let SignInStep::Redirect { pending, .. } = connector
        .begin_sign_in(&sign_in_request())
        .await
        .expect("begun")
    else {
        panic!("a redirect");
    };
    connector.complete_sign_in(&answer(pending, &[])).await
}

#[tokio::test]
async fn a_consent_read_back_already_expired_is_refused_and_deleted() {
    let bank = Bank::start().await;
    let done = redirect_sign_in_read_back(&bank, "consent-information-expired.json").await;
    assert_eq!(done.err(), Some(ConnectorError::ConsentExpired));
    assert_eq!(deletes(&bank).await, 1);
}

#[tokio::test]
async fn a_consent_granting_listed_accounts_is_used_only_for_them() {
    let bank = Bank::start().await;
    let Ok(SignInProgress::Done(session)) =
        redirect_sign_in_read_back(&bank, "consent-information-listed.json").await
    else {
        panic!("signed in");
    };
    let mut outside = account();
    outside.iban = Some("DE2310010010123456788".to_owned());
    let read = bank
        .connector()
        .transactions(&session, &outside, october_2017(), None)
        .await;
    assert!(
        matches!(read, Err(ConnectorError::Unsupported(_))),
        "{read:?}"
    );
    let accounts_read = bank
        .received_at(&format!("/psd2/v1/accounts/{EUR_ACCOUNT}/transactions"))
        .await;
    assert!(accounts_read.is_empty(), "no read outside the consent");
}

#[tokio::test]
async fn a_balances_link_answering_404_falls_back_to_the_spec_s_path_then_to_a_shortfall() {
    let bank = Bank::start().await;
    let list = json!({"accounts": [{"resourceId": EUR_ACCOUNT, "iban": "DE2310010010123456788",
        "currency": "EUR", "_links": {"balances": {"href": "/psd2/v1/broken/balances"}}}]});
    mount(
        &bank,
        "GET",
        "/psd2/v1/accounts",
        ResponseTemplate::new(200).set_body_json(list),
    )
    .await;
    mount(
        &bank,
        "GET",
        "/psd2/v1/broken/balances",
        ResponseTemplate::new(404),
    )
    .await;
    let spec_path = format!("/psd2/v1/accounts/{EUR_ACCOUNT}/balances");
    mount(
        &bank,
        "GET",
        &spec_path,
        bank.answer("balances-regular.json"),
    )
    .await;
    let accounts = bank
        .connector()
        .with_balances_in_account_list(false)
        .accounts(&session())
        .await
        .expect("accounts");
    assert!(!accounts[0].balances.is_empty(), "read at the spec's path");
    assert_eq!(accounts[0].balances_unavailable, None);

    let bank = Bank::start().await;
    let list = json!({"accounts": [{"resourceId": EUR_ACCOUNT, "currency": "EUR",
        "_links": {"balances": {"href": "/psd2/v1/broken/balances"}}}]});
    mount(
        &bank,
        "GET",
        "/psd2/v1/accounts",
        ResponseTemplate::new(200).set_body_json(list),
    )
    .await;
    let accounts = bank
        .connector()
        .with_balances_in_account_list(false)
        .accounts(&session())
        .await
        .expect("the import goes on without the balances");
    assert!(accounts[0].balances.is_empty());
    assert!(
        accounts[0].balances_unavailable.is_some(),
        "the account says why it has no balances, for its receipt"
    );
}

#[tokio::test]
async fn a_report_offered_as_a_download_is_unsupported_not_a_failure() {
    let bank = Bank::start().await;
    let first = format!("/psd2/v1/accounts/{EUR_ACCOUNT}/transactions");
    mount(
        &bank,
        "GET",
        &first,
        bank.answer("transactions-download.json"),
    )
    .await;
    let read = bank
        .connector()
        .transactions(&session(), &account(), october_2017(), None)
        .await;
    assert!(
        matches!(read, Err(ConnectorError::Unsupported(_))),
        "{read:?}"
    );
}

#[tokio::test]
async fn an_http_error_is_described_as_the_status_the_bank_answered() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "GET",
        "/psd2/v1/card-accounts",
        ResponseTemplate::new(404),
    )
    .await;
    let error = bank.connector().cards(&session()).await.expect_err("404");
    let text = error.to_string();
    assert!(
        text.contains("404") && !text.contains("unparseable"),
        "{text}"
    );
}

#[tokio::test]
async fn the_spec_s_decoupled_consent_waits_for_the_app_then_signs_in() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-decoupled.json"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(consent("/authorisations")))
        .respond_with(
            bank.answer("authorisation-started-decoupled.json")
                .insert_header("ASPSP-SCA-Approach", "DECOUPLED"),
        )
        .mount(&bank.server)
        .await;
    Mock::given(method("GET"))
        .and(path(AUTHORISATION))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"scaStatus": "psuIdentified"}))
                .insert_header("Retry-After", "5"),
        )
        .up_to_n_times(1)
        .mount(&bank.server)
        .await;
    mount(
        &bank,
        "GET",
        AUTHORISATION,
        bank.answer("sca-status-finalised.json"),
    )
    .await;
    mount_valid_consent(&bank).await;
    let connector = bank.connector();
    let mut request = sign_in_request();
    request.psu_id = None;
    let SignInStep::Form { fields, pending } =
        connector.begin_sign_in(&request).await.expect("begun")
    else {
        panic!("the owner's login is asked first");
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].name, PSU_ID_FIELD);
    let Ok(SignInProgress::Next(SignInStep::Wait {
        message, pending, ..
    })) = connector
        .complete_sign_in(&answer(pending, &[(PSU_ID_FIELD, "PSU-1234")]))
        .await
    else {
        panic!("waiting for the app");
    };
    assert_eq!(
        message,
        "Please use your BankApp for transaction Authorisation."
    );
    let started = &bank.received_at(&consent("/authorisations")).await[0];
    assert_eq!(header(started, "PSU-ID"), Some("PSU-1234"));
    let Ok(SignInProgress::Next(SignInStep::Wait {
        poll_after,
        pending,
        ..
    })) = connector.complete_sign_in(&answer(pending, &[])).await
    else {
        panic!("still waiting");
    };
    assert_eq!(
        poll_after,
        std::time::Duration::from_secs(5),
        "the bank's pace"
    );
    let done = connector.complete_sign_in(&answer(pending, &[])).await;
    assert!(matches!(done, Ok(SignInProgress::Done(_))), "{done:?}");
}

#[tokio::test]
async fn a_decoupled_approval_refused_in_the_app_fails_and_deletes_the_consent() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-decoupled.json"),
    )
    .await;
    mount(
        &bank,
        "POST",
        &consent("/authorisations"),
        bank.answer("authorisation-started-decoupled.json"),
    )
    .await;
    mount(
        &bank,
        "GET",
        AUTHORISATION,
        bank.answer("sca-status-failed.json"),
    )
    .await;
    mount(&bank, "DELETE", &consent(""), ResponseTemplate::new(204)).await;
    let connector = bank.connector();
    let Ok(SignInStep::Wait { pending, .. }) = connector.begin_sign_in(&sign_in_request()).await
    else {
        panic!("a known login goes straight to waiting");
    };
    let done = connector.complete_sign_in(&answer(pending, &[])).await;
    assert_eq!(done.err(), Some(ConnectorError::InvalidCredentials));
    assert_eq!(deletes(&bank).await, 1);
}

#[tokio::test]
async fn the_spec_s_embedded_consent_takes_password_method_and_code() {
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-embedded.json"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(consent("/authorisations")))
        .and(body_json(json!({"psuData": {"password": "start12"}})))
        .respond_with(bank.answer("authorisation-started-embedded-methods.json"))
        .mount(&bank.server)
        .await;
    Mock::given(method("PUT"))
        .and(path(AUTHORISATION))
        .and(body_json(
            json!({"authenticationMethodId": "myAuthenticationID"}),
        ))
        .respond_with(bank.answer("authorisation-method-selected.json"))
        .mount(&bank.server)
        .await;
    Mock::given(method("PUT"))
        .and(path(AUTHORISATION))
        .and(body_json(json!({"scaAuthenticationData": "123456"})))
        .respond_with(bank.answer("sca-status-finalised.json"))
        .mount(&bank.server)
        .await;
    mount_valid_consent(&bank).await;
    let connector = bank.connector();
    let Ok(SignInStep::Form { fields, pending }) =
        connector.begin_sign_in(&sign_in_request()).await
    else {
        panic!("login and password first");
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, [PSU_ID_FIELD, PASSWORD_FIELD]);
    let Ok(SignInProgress::Next(SignInStep::Choose {
        name,
        options,
        pending,
        ..
    })) = connector
        .complete_sign_in(&answer(
            pending,
            &[(PSU_ID_FIELD, "PSU-1234"), (PASSWORD_FIELD, "start12")],
        ))
        .await
    else {
        panic!("two methods to choose from");
    };
    assert_eq!(name, SCA_METHOD_FIELD);
    assert_eq!(options.len(), 2);
    let Ok(SignInProgress::Next(SignInStep::Form { fields, pending })) = connector
        .complete_sign_in(&answer(
            pending,
            &[(SCA_METHOD_FIELD, "myAuthenticationID")],
        ))
        .await
    else {
        panic!("the one-time code next");
    };
    assert_eq!(fields[0].name, OTP_FIELD);
    let done = connector
        .complete_sign_in(&answer(pending, &[(OTP_FIELD, "123456")]))
        .await;
    assert!(matches!(done, Ok(SignInProgress::Done(_))), "{done:?}");
}

#[tokio::test]
async fn the_aspsp_sca_approach_header_decides_over_the_links() {
    // consentResponseExample1b: an explicit start, its answer fixed DECOUPLED by the header.
    let bank = Bank::start().await;
    mount(
        &bank,
        "POST",
        CONSENTS,
        bank.answer("consent-created-explicit-start.json"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(consent("/authorisations")))
        .respond_with(
            bank.answer("authorisation-started-decoupled.json")
                .insert_header("ASPSP-SCA-Approach", "DECOUPLED"),
        )
        .mount(&bank.server)
        .await;
    let step = bank.connector().begin_sign_in(&sign_in_request()).await;
    assert!(matches!(step, Ok(SignInStep::Wait { .. })), "{step:?}");
}
