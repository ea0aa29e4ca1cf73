//! From the Account Service's JSON ([`crate::wire`]) to Aisle's domain types.

use aisle_sdk::lenient::{country, date, joined, non_empty, optional_amount};
use aisle_sdk::{Account, Balance, ConnectorError, Owner, OwnerKind};

use crate::wire;

/// The balance type of `availableBalance`: what the owner can spend now.
pub const AVAILABLE: &str = "interimAvailable";
/// The balance type of `ledgerBalance`: booked entries up to now, intraday included.
pub const LEDGER: &str = "interimBooked";

/// One line: street, postal code and city, country.
fn address(raw: Option<&wire::Address>) -> Option<String> {
    let parts: Vec<String> = match raw? {
        wire::Address::Text(text) => non_empty(Some(text)).into_iter().collect(),
        wire::Address::Parts(parts) => {
            let town = joined([parts.postal_code.as_deref(), parts.city.as_deref()], " ");
            non_empty(parts.street.as_deref())
                .into_iter()
                .chain(town)
                .chain(country(parts.country.as_deref()))
                .collect()
        }
    };
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn owner_kind(role: Option<&str>) -> OwnerKind {
    let role = role.map(|r| r.trim().to_ascii_uppercase().replace(['-', ' '], "_"));
    match role.as_deref() {
        None | Some("OWNER" | "PRIMARY_HOLDER" | "HOLDER") => OwnerKind::Owner,
        Some("CO_OWNER" | "COOWNER" | "JOINT_HOLDER" | "JOINT_OWNER") => OwnerKind::CoOwner,
        Some("ATTORNEY" | "POWER_OF_ATTORNEY" | "PROXY" | "LEGAL_REPRESENTATIVE" | "GUARDIAN") => {
            OwnerKind::Attorney
        }
        Some(_) => OwnerKind::Other,
    }
}

/// The customer, then the related parties the customer record names.
pub fn owners(raw: &wire::Customer) -> Result<Vec<Owner>, ConnectorError> {
    let name = non_empty(raw.full_name.as_deref())
        .or_else(|| joined([raw.first_name.as_deref(), raw.last_name.as_deref()], " "))
        .ok_or_else(|| ConnectorError::protocol("the customer has no name", ""))?;
    let customer = Owner {
        name: name.clone(),
        title: non_empty(raw.title.as_deref()),
        kind: OwnerKind::Owner,
        address: address(raw.address.as_ref()),
        birth_date: date(raw.birth_date.as_deref())?,
        email: non_empty(raw.email.as_deref()),
        phone: non_empty(raw.phone_number.as_deref()),
        national_id: non_empty(raw.legal_id.as_deref()),
        nationality: country(raw.nationality.as_deref()),
    };
    let mut owners = vec![customer];
    for party in &raw.related_parties {
        let Some(name) = non_empty(party.full_name.as_deref()) else {
            continue;
        };
        if owners.iter().any(|o| o.name == name) {
            continue;
        }
        owners.push(Owner {
            name,
            title: None,
            kind: owner_kind(party.role.as_deref()),
            address: None,
            birth_date: None,
            email: None,
            phone: None,
            national_id: None,
            nationality: None,
        });
    }
    Ok(owners)
}

/// The account number the service knows an account by.
pub fn account_number(raw: &wire::AccountSummary) -> Result<String, ConnectorError> {
    non_empty(raw.account_number.as_deref())
        .ok_or_else(|| ConnectorError::protocol("a listed account has no accountNumber", ""))
}

/// An account from its list entry and its `get-account-info` details.
pub fn account(
    summary: &wire::AccountSummary,
    info: &wire::AccountInfo,
) -> Result<Account, ConnectorError> {
    let number = account_number(summary)?;
    let currency = non_empty(summary.currency.as_deref())
        .or_else(|| non_empty(info.currency.as_deref()))
        .map(|c| c.to_ascii_uppercase())
        .ok_or_else(|| ConnectorError::protocol("an account has no currency", ""))?;
    let reference_date = date(info.balance_date.as_deref())?;
    let balances = [
        (
            AVAILABLE,
            optional_amount(info.available_balance.as_deref())?,
        ),
        (LEDGER, optional_amount(info.ledger_balance.as_deref())?),
    ]
    .into_iter()
    .filter_map(|(kind, amount)| {
        amount.map(|amount| Balance {
            balance_type: kind.to_owned(),
            amount,
            currency: currency.clone(),
            reference_date,
        })
    })
    .collect();
    let mut account = Account::new(number.clone(), currency);
    account.iban = non_empty(summary.iban.as_deref()).map(|i| i.replace(' ', ""));
    account.bban = Some(number);
    account.name = non_empty(summary.account_name.as_deref());
    account.product = non_empty(summary.product_name.as_deref());
    account.account_type = non_empty(summary.account_type.as_deref());
    account.status = non_empty(summary.status.as_deref());
    account.owner_names = summary
        .holders
        .iter()
        .filter_map(|h| non_empty(h.name.as_deref()))
        .collect();
    account.balances = balances;
    account.opened_on = date(summary.open_date.as_deref())?;
    // An overdraft limit is how far below zero the bank lets the balance go.
    account.min_allowed_balance = optional_amount(info.overdraft_limit.as_deref())?.map(|limit| {
        if limit.is_zero() {
            // Negating zero would print as "-0.00".
            limit.abs()
        } else {
            -limit.abs()
        }
    });
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_read_in_any_spelling() {
        assert_eq!(owner_kind(Some("co-owner")), OwnerKind::CoOwner);
        assert_eq!(owner_kind(Some("Joint Holder")), OwnerKind::CoOwner);
        assert_eq!(owner_kind(Some("POWER_OF_ATTORNEY")), OwnerKind::Attorney);
        assert_eq!(owner_kind(Some("BENEFICIARY")), OwnerKind::Other);
        assert_eq!(owner_kind(None), OwnerKind::Owner);
    }
}
