//! The transaction export: every row the client imported in a period, one per line.

use chrono::{Days, Utc};
use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::{helpers::TestApp, results::import_with_many_rows};

async fn export(app: &TestApp, query: &str, accept: &str) -> (StatusCode, String, String) {
    let response = app
        .http
        .get(format!("{}/v1/exports/transactions?{query}", app.address))
        .bearer_auth(&app.api_key)
        .header(header::ACCEPT, accept)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn an_export_has_one_line_per_imported_transaction_in_ndjson_and_csv() {
    let app = crate::helpers::spawn_app().await;
    let command_id = import_with_many_rows(&app, 3_000).await;
    let imported = app.count("select count(*) from transactions").await as usize;
    let today = Utc::now().date_naive();
    let period = format!("since={today}&until={today}");

    let (status, content_type, body) = export(&app, &period, "application/x-ndjson").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), imported);
    assert!(lines.iter().all(|l| l["commandId"] == command_id.as_str()));
    assert!(lines.iter().all(|l| l["ownerExternalId"] == "owner-1"));
    assert!(
        lines
            .iter()
            .all(|l| l["bankAccountId"].is_string() && l["amount"].is_string())
    );

    let (status, content_type, body) = export(&app, &period, "text/csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let records = body.split("\r\n").filter(|l| !l.is_empty()).count();
    assert_eq!(
        records,
        imported + 1,
        "a header and one record per transaction"
    );

    let yesterday = today - Days::new(1);
    let (_, _, body) = export(&app, &format!("since={yesterday}&until={yesterday}"), "*/*").await;
    assert!(body.is_empty(), "nothing was imported yesterday");
    let (_, _, body) = export(
        &app,
        &format!("{period}&ownerExternalId=someone-else"),
        "*/*",
    )
    .await;
    assert!(body.is_empty(), "nothing was imported for another owner");
}

#[tokio::test]
async fn an_export_without_a_period_or_with_a_malformed_one_is_refused() {
    let app = crate::helpers::spawn_app_without_workers().await;
    for query in ["", "since=yesterday"] {
        let response = app
            .http
            .get(format!("{}/v1/exports/transactions?{query}", app.address))
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap();
        crate::helpers::assert_problem(response, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    }
}
