//! From the partner API's JSON ([`crate::wire`]) to Aisle's domain types.

use aisle_sdk::lenient::{country, date, joined, non_empty, optional_amount};
use aisle_sdk::{Account, ConnectorError, Owner, OwnerKind};

use crate::wire;

/// The owner's full name: first and last name joined.
pub fn owner_name(raw: &wire::Owner) -> Option<String> {
    joined([raw.first_name.as_deref(), raw.last_name.as_deref()], " ")
}

/// One line: street lines, postal code and city, country of residence.
fn address(raw: &wire::Owner) -> Option<String> {
    let mut parts: Vec<String> = match &raw.address {
        None => Vec::new(),
        Some(wire::Address::Text(text)) => non_empty(Some(text)).into_iter().collect(),
        Some(wire::Address::Lines(lines)) => {
            let town = joined([lines.postal_code.as_deref(), lines.city.as_deref()], " ");
            [lines.line1.as_deref(), lines.line2.as_deref()]
                .into_iter()
                .filter_map(non_empty)
                .chain(town)
                .collect()
        }
    };
    if parts.is_empty() {
        return None;
    }
    parts.extend(country(raw.country.as_deref()));
    Some(parts.join(", "))
}

pub fn owner(raw: &wire::Owner) -> Result<Owner, ConnectorError> {
    let name =
        owner_name(raw).ok_or_else(|| ConnectorError::protocol("the owner has no name", ""))?;
    Ok(Owner {
        name,
        title: non_empty(raw.title.as_deref()),
        kind: OwnerKind::Owner,
        address: address(raw),
        birth_date: date(raw.birth_date.as_deref())?,
        email: non_empty(raw.email.as_deref()),
        phone: None,
        national_id: None,
        nationality: country(raw.nationality.as_deref()),
    })
}

/// `IBAN` in `accnoType`, or a reference shaped like one: two letters, two check digits,
/// then up to 30 letters and digits.
pub fn is_iban(reference: &str, accno_type: Option<&str>) -> bool {
    if let Some(kind) = accno_type.map(str::trim).filter(|k| !k.is_empty()) {
        return kind.eq_ignore_ascii_case("IBAN");
    }
    let bytes = reference.as_bytes();
    (15..=34).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_alphabetic)
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes[4..].iter().all(u8::is_ascii_alphanumeric)
}

pub fn account(
    raw: &wire::Account,
    owner: Option<&wire::Owner>,
) -> Result<Account, ConnectorError> {
    let accno = non_empty(raw.accno.as_deref())
        .ok_or_else(|| ConnectorError::protocol("the account has no accno", ""))?;
    let currency = non_empty(raw.currency.as_deref())
        .map(|c| c.to_ascii_uppercase())
        .ok_or_else(|| ConnectorError::protocol("the account has no currency", ""))?;
    let mut account = Account::new(accno.clone(), currency);
    if is_iban(&accno, raw.accno_type.as_deref()) {
        account.iban = Some(accno);
    } else {
        account.bban = Some(accno);
    }
    account.account_type = non_empty(raw.account_type.as_deref());
    account.status = non_empty(raw.status.as_deref());
    account.owner_names = owner.and_then(owner_name).into_iter().collect();
    account.opened_on = date(raw.creation_date.as_deref())?;
    account.valid_until = date(raw.validity_date.as_deref())?;
    account.min_allowed_balance = optional_amount(raw.min_allowed_balance.as_deref())?;
    account.max_allowed_balance = optional_amount(raw.max_allowed_balance.as_deref())?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_told_from_account_numbers_by_type_or_by_shape() {
        assert!(is_iban("DE27100200300012345678", None));
        assert!(!is_iban("0012345678", None));
        assert!(!is_iban("DE27100200300012345678", Some("ACCNO")));
        assert!(is_iban("0012345678", Some("iban")));
    }
}
