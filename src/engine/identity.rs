//! Transaction identity, so the same transaction seen twice is stored once while two real,
//! identical transactions on the same day both survive.
//!
//! The bank's id wins when it has one, qualified by the row's status where it is pending:
//! banks reuse one id for a card payment's pending authorisation and its booking, and both
//! are rows of the same report (the pending one must not vanish as a duplicate). Otherwise the identity is a fingerprint of the row's
//! content plus its occurrence index among rows with the same fingerprint.

use std::collections::HashMap;

use aisle_sdk::{CardTransaction, Transaction, TransactionStatus};
use sha2::{Digest, Sha256};

/// What identifies a row when the bank gives no id.
pub trait Fingerprint {
    fn bank_id(&self) -> Option<&str>;
    fn status(&self) -> TransactionStatus;
    fn content(&self) -> String;
}

impl Fingerprint for Transaction {
    fn bank_id(&self) -> Option<&str> {
        self.bank_id.as_deref()
    }

    fn status(&self) -> TransactionStatus {
        self.status
    }

    fn content(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{}|{}|{:?}|{:?}|{:?}",
            self.status,
            self.booking_date,
            self.value_date,
            self.amount.normalize(),
            self.currency,
            self.counterparty_name,
            self.counterparty_account,
            self.description
        )
    }
}

impl Fingerprint for CardTransaction {
    fn bank_id(&self) -> Option<&str> {
        self.bank_id.as_deref()
    }

    fn status(&self) -> TransactionStatus {
        self.status
    }

    fn content(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{}|{}|{:?}|{:?}",
            self.status,
            self.transaction_date,
            self.booking_date,
            self.amount.normalize(),
            self.currency,
            self.merchant_name,
            self.description
        )
    }
}

/// Pairs every row with its identity. Rows must be all of one account's fetched rows.
pub fn identify<T: Fingerprint>(rows: Vec<T>) -> Vec<(String, T)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    rows.into_iter()
        .map(|row| {
            let identity = match (row.bank_id(), row.status()) {
                // Booked rows keep the plain form, so their identities are what they were.
                (Some(id), TransactionStatus::Booked) => format!("bank:{id}"),
                (Some(id), TransactionStatus::Pending) => format!("bank:pending:{id}"),
                (None, _) => {
                    let digest = hex::encode(Sha256::digest(row.content().as_bytes()));
                    let occurrence = seen.entry(digest.clone()).or_default();
                    *occurrence += 1;
                    format!("fp:{}:{}", &digest[..32], *occurrence - 1)
                }
            };
            (identity, row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn coffee() -> Transaction {
        Transaction {
            bank_id: None,
            status: TransactionStatus::Booked,
            booking_date: "2026-11-02".parse().ok(),
            value_date: None,
            amount: Decimal::new(-350, 2),
            currency: "EUR".into(),
            counterparty_name: Some("Cafe".into()),
            counterparty_account: None,
            description: Some("coffee".into()),
            bank_transaction_code: None,
            balance_after: None,
        }
    }

    #[test]
    fn two_identical_rows_without_bank_ids_keep_distinct_identities() {
        let ids: Vec<String> = identify(vec![coffee(), coffee()])
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_ne!(ids[0], ids[1]);
        assert!(ids[0].ends_with(":0") && ids[1].ends_with(":1"));
    }

    #[test]
    fn the_same_row_gets_the_same_identity_on_every_fetch() {
        let first = identify(vec![coffee()]);
        let second = identify(vec![coffee()]);
        assert_eq!(first[0].0, second[0].0);
    }

    #[test]
    fn a_bank_id_is_the_identity_when_present() {
        let mut row = coffee();
        row.bank_id = Some("tx-1".into());
        assert_eq!(identify(vec![row])[0].0, "bank:tx-1");
    }

    #[test]
    fn a_pending_card_row_sharing_its_id_with_a_booked_one_keeps_its_own_identity() {
        let booked = CardTransaction {
            bank_id: Some("card-tx-7".into()),
            status: TransactionStatus::Booked,
            transaction_date: "2026-11-02".parse().ok(),
            booking_date: "2026-11-03".parse().ok(),
            amount: Decimal::new(-1250, 2),
            currency: "EUR".into(),
            original_amount: None,
            original_currency: None,
            merchant_name: Some("Cafe".into()),
            description: None,
            merchant_category_code: None,
        };
        let pending = CardTransaction {
            status: TransactionStatus::Pending,
            booking_date: None,
            ..booked.clone()
        };
        let ids: Vec<String> = identify(vec![booked, pending])
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["bank:card-tx-7", "bank:pending:card-tx-7"]);
    }
}
