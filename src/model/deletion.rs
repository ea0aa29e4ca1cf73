//! Deleting imported data: why it went, what went, and the receipt that proves it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Why a command's imported data was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeletionReason {
    /// The client's retention period ended.
    Retention,
    /// The client asked (`DELETE .../data`).
    Request,
}

/// Rows deleted, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedCounts {
    /// Owners' details (names, addresses, birth dates, ids).
    pub owners: u64,
    pub accounts: u64,
    /// Account and card balances.
    pub balances: u64,
    pub transactions: u64,
    pub cards: u64,
    pub card_transactions: u64,
}

impl std::ops::AddAssign for DeletedCounts {
    fn add_assign(&mut self, other: Self) {
        self.owners += other.owners;
        self.accounts += other.accounts;
        self.balances += other.balances;
        self.transactions += other.transactions;
        self.cards += other.cards;
        self.card_transactions += other.card_transactions;
    }
}

/// What a deletion was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeletionScope {
    /// One command's data.
    Command {
        #[serde(rename = "commandId")]
        command_id: Uuid,
    },
    /// Every command of one owner.
    Owner {
        #[serde(rename = "ownerExternalId")]
        owner_external_id: String,
    },
}

/// One command a deletion covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandDeletion {
    pub command_id: Uuid,
    /// The bank's id in the registry.
    pub bank: String,
    pub owner_external_id: String,
    /// Rows this deletion removed; zeros when the data had gone before.
    pub deleted: DeletedCounts,
    /// When the command's data went: now, or at an earlier deletion.
    pub data_deleted_at: DateTime<Utc>,
}

/// What was deleted, for which client, when and why. Signed: see [`SignedDeletionReceipt`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionReceipt {
    pub receipt_id: Uuid,
    pub client_id: Uuid,
    pub reason: DeletionReason,
    pub scope: DeletionScope,
    pub deleted_at: DateTime<Utc>,
    /// The sum over `commands`.
    pub deleted: DeletedCounts,
    pub commands: Vec<CommandDeletion>,
}

/// The signature algorithm of a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum SignatureAlgorithm {
    Ed25519,
}

/// An Ed25519 signature over the receipt's canonical bytes: its JSON with object keys sorted
/// and no whitespace (RFC 8785 for this document, which holds only strings and integers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptSignature {
    pub algorithm: SignatureAlgorithm,
    /// The `kid` of the key in `GET /v1/deletion-receipts/keys`.
    pub key_id: String,
    /// The 64-byte signature, base64 (standard alphabet, padded).
    pub value: String,
}

/// A deletion receipt and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({
    "receipt": {
        "receiptId": "019ad2f0-4c1e-7d1a-9f4e-3c2b1a0f9e8d",
        "clientId": "019ad2a0-0b2c-7e3d-8f4a-5b6c7d8e9f0a",
        "reason": "request",
        "scope": {"kind": "command", "commandId": "019ad2b1-0b2c-7e3d-8f4a-5b6c7d8e9f0a"},
        "deletedAt": "2026-11-30T10:00:00.123456Z",
        "deleted": {"owners": 1, "accounts": 2, "balances": 4, "transactions": 120, "cards": 1, "cardTransactions": 15},
        "commands": [{
            "commandId": "019ad2b1-0b2c-7e3d-8f4a-5b6c7d8e9f0a",
            "bank": "sandbox",
            "ownerExternalId": "customer-4711",
            "deleted": {"owners": 1, "accounts": 2, "balances": 4, "transactions": 120, "cards": 1, "cardTransactions": 15},
            "dataDeletedAt": "2026-11-30T10:00:00.123456Z"
        }]
    },
    "signature": {"algorithm": "Ed25519", "keyId": "Wk2HEc2c3kUJ3v0bZ3pK6m0fMnUfQ0cPj6bqj3iYb4s", "value": "base64..."}
})))]
pub struct SignedDeletionReceipt {
    pub receipt: DeletionReceipt,
    pub signature: ReceiptSignature,
}
