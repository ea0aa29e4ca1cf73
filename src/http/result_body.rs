//! Response bodies written while they are read: a command's result and the transaction export
//! come out of the database in keyset batches and go to the client in chunks, so a response's
//! memory is one batch and one chunk, whatever the number of rows.
//!
//! A body that fails half-way (a database error, a broken invariant) is never ended cleanly:
//! the stream yields an error, and hyper then drops the connection without the final chunk of
//! the chunked encoding. A client sees a truncated transfer, never a body that parses as a
//! complete result.

use std::{future::Future, io};

use axum::body::{Body, Bytes};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tracing::Instrument;
use uuid::Uuid;

use crate::store::{
    deletions,
    results::{self, ResultHeads, RowKey, RowStatus, Scope},
};

/// Bytes gathered before a chunk is sent.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks waiting for a slow client before the writer waits too (the memory bound).
const CHUNKS_IN_FLIGHT: usize = 4;
/// Rows read per query.
const BATCH_ROWS: i64 = 1_000;

/// Why a streamed body stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The client went away; nothing to report.
    #[error("the client closed the connection")]
    Closed,
    #[error("reading the rows failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("serialising a row failed: {0}")]
    Json(#[from] serde_json::Error),
    /// A serialised view did not have the shape the writer splices rows into.
    #[error("a serialised {0} lacks its `{1}` field")]
    Layout(&'static str, &'static str),
    /// The command's data was deleted while its rows were read.
    #[error("the command's data was deleted while its result was read")]
    DataDeleted,
}

/// Writes a body in chunks to the response, waiting while the client is slow.
pub struct BodyWriter {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    buffer: Vec<u8>,
}

impl BodyWriter {
    pub fn write(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    pub fn write_json(&mut self, value: &impl Serialize) -> Result<(), WriteError> {
        serde_json::to_writer(&mut self.buffer, value)?;
        Ok(())
    }

    /// Sends what is gathered once it makes a chunk.
    pub async fn flush_if_full(&mut self) -> Result<(), WriteError> {
        if self.buffer.len() >= CHUNK_BYTES {
            self.send().await?;
        }
        Ok(())
    }

    /// Sends the rest; the body ends when the writer is dropped after this.
    pub async fn finish(mut self) -> Result<(), WriteError> {
        if !self.buffer.is_empty() {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> Result<(), WriteError> {
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.sender
            .send(Ok(chunk))
            .await
            .map_err(|_| WriteError::Closed)
    }
}

/// A body that `produce` writes while the client reads it. If `produce` fails, the cause is
/// logged once, in the request's span, and the connection is aborted.
pub fn streamed<F, Fut>(produce: F) -> Body
where
    F: FnOnce(BodyWriter) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), WriteError>> + Send + 'static,
{
    let (sender, mut receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let writer = BodyWriter {
        sender: sender.clone(),
        buffer: Vec::with_capacity(CHUNK_BYTES),
    };
    tokio::spawn(
        async move {
            match produce(writer).await {
                Ok(()) | Err(WriteError::Closed) => {}
                Err(WriteError::DataDeleted) => {
                    tracing::info!("data deleted while its result was read; aborting the response");
                    let _ = sender
                        .send(Err(io::Error::other("the data was deleted meanwhile")))
                        .await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "a streamed body failed; aborting the response");
                    let _ = sender
                        .send(Err(io::Error::other("the body could not be completed")))
                        .await;
                }
            }
        }
        .instrument(tracing::Span::current()),
    );
    Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        receiver.poll_recv(cx)
    }))
}

/// Whether the transactions are written, or only the rest (owners, accounts and cards with
/// their balances and receipts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultView {
    Full,
    Summary,
}

/// Where a serialised command has `"result":null`, for the result to be written in its place.
const RESULT_PLACEHOLDER: &str = "\"result\":null";
/// Where a serialised account or card has its (empty) transactions.
const TRANSACTIONS_PLACEHOLDER: &str = ",\"transactions\":{\"booked\":[],\"pending\":[]}";

/// Writes `command`, a serialised command whose `result` is null, with the result of `scope`
/// in its place: the same bytes as serialising the whole command with its result in memory.
pub async fn write_command(
    mut writer: BodyWriter,
    command: String,
    pool: PgPool,
    scope: Scope,
    view: ResultView,
) -> Result<(), WriteError> {
    // The placeholder is found by the JSON grammar: inside a string every quote is escaped, so
    // `"result":` with a bare quote can only be the key, and the command has one such key.
    let (before, after) = command
        .split_once(RESULT_PLACEHOLDER)
        .ok_or(WriteError::Layout("command", "result"))?;
    let heads = results::load_heads(&pool, scope).await?;
    writer.write(before.as_bytes());
    writer.write(b"\"result\":");
    write_result(&mut writer, &pool, scope, heads, view).await?;
    // A deletion committed while the rows were read would leave a result short of some of
    // them under a tag that calls it whole: the body is cut instead. Still kept now means
    // kept for every read above, each of which saw what was committed when it began.
    if deletions::data_deleted(&pool, scope).await? {
        return Err(WriteError::DataDeleted);
    }
    writer.write(after.as_bytes());
    writer.finish().await
}

async fn write_result(
    writer: &mut BodyWriter,
    pool: &PgPool,
    scope: Scope,
    heads: ResultHeads,
    view: ResultView,
) -> Result<(), WriteError> {
    writer.write(b"{\"owners\":");
    writer.write_json(&heads.owners)?;
    writer.write(b",\"accounts\":[");
    for (i, account) in heads.accounts.iter().enumerate() {
        if i > 0 {
            writer.write(b",");
        }
        let json = serde_json::to_string(account)?;
        write_with_rows(
            writer,
            pool,
            scope,
            &json,
            Parent::Account(account.id),
            view,
        )
        .await?;
    }
    writer.write(b"],\"cards\":[");
    for (i, card) in heads.cards.iter().enumerate() {
        if i > 0 {
            writer.write(b",");
        }
        let json = serde_json::to_string(card)?;
        write_with_rows(writer, pool, scope, &json, Parent::Card(card.id), view).await?;
    }
    writer.write(b"]}");
    Ok(())
}

/// What rows belong to.
#[derive(Debug, Clone, Copy)]
enum Parent {
    Account(Uuid),
    Card(Uuid),
}

/// Writes a serialised account or card (whose transactions are empty) with its rows spliced
/// in, or without the `transactions` field at all in the summary view.
async fn write_with_rows(
    writer: &mut BodyWriter,
    pool: &PgPool,
    scope: Scope,
    json: &str,
    parent: Parent,
    view: ResultView,
) -> Result<(), WriteError> {
    let what = match parent {
        Parent::Account(_) => "account",
        Parent::Card(_) => "card",
    };
    // As for the command: the key with a bare quote can only be the field itself, and it
    // comes before `receipt`, the one field that could hold such a key in nested JSON.
    let (before, after) = json
        .split_once(TRANSACTIONS_PLACEHOLDER)
        .ok_or(WriteError::Layout(what, "transactions"))?;
    writer.write(before.as_bytes());
    if view == ResultView::Full {
        writer.write(b",\"transactions\":{\"booked\":[");
        write_rows(writer, pool, scope, parent, RowStatus::Booked).await?;
        writer.write(b"],\"pending\":[");
        write_rows(writer, pool, scope, parent, RowStatus::Pending).await?;
        writer.write(b"]}");
    }
    writer.write(after.as_bytes());
    Ok(())
}

/// Writes a parent's rows of one status, comma-separated, batch by batch.
async fn write_rows(
    writer: &mut BodyWriter,
    pool: &PgPool,
    scope: Scope,
    parent: Parent,
    status: RowStatus,
) -> Result<(), WriteError> {
    let mut after: Option<RowKey> = None;
    let mut first = true;
    loop {
        let (read, last) = match parent {
            Parent::Account(id) => {
                let rows = results::transactions_batch(
                    pool,
                    scope,
                    id,
                    status,
                    after.as_ref(),
                    BATCH_ROWS,
                )
                .await?;
                write_separated(writer, &rows, &mut first).await?;
                (rows.len(), rows.last().map(RowKey::of_transaction))
            }
            Parent::Card(id) => {
                let rows = results::card_transactions_batch(
                    pool,
                    scope,
                    id,
                    status,
                    after.as_ref(),
                    BATCH_ROWS,
                )
                .await?;
                write_separated(writer, &rows, &mut first).await?;
                (rows.len(), rows.last().map(RowKey::of_card_transaction))
            }
        };
        match last {
            Some(key) if read as i64 == BATCH_ROWS => after = Some(key),
            _ => return Ok(()),
        }
    }
}

async fn write_separated<T: Serialize>(
    writer: &mut BodyWriter,
    rows: &[T],
    first: &mut bool,
) -> Result<(), WriteError> {
    for row in rows {
        if !std::mem::take(first) {
            writer.write(b",");
        }
        writer.write_json(row)?;
        writer.flush_if_full().await?;
    }
    Ok(())
}
