//! From the partner API's JSON ([`crate::wire`]) to Aisle's domain types.

use aisle_sdk::{Account, ConnectorError, Owner, OwnerKind};
use serde_json::value::RawValue;

use aisle_sdk::lenient::{self, country, date, non_empty};

use crate::wire;

/// The owner's full name: first and last name joined.
pub fn owner_name(raw: &wire::Owner) -> Option<String> {
    let parts: Vec<String> = [raw.first_name.as_deref(), raw.last_name.as_deref()]
        .into_iter()
        .filter_map(non_empty)
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// One line: street lines, postal code and city, country of residence.
fn address(raw: &wire::Owner) -> Option<String> {
    let mut parts: Vec<String> = match &raw.address {
        None => Vec::new(),
        Some(wire::Address::Text(text)) => non_empty(Some(text)).into_iter().collect(),
        Some(wire::Address::Lines(lines)) => {
            let town: Vec<String> = [lines.postal_code.as_deref(), lines.city.as_deref()]
                .into_iter()
                .filter_map(non_empty)
                .collect();
            [lines.line1.as_deref(), lines.line2.as_deref()]
                .into_iter()
                .filter_map(non_empty)
                .chain((!town.is_empty()).then(|| town.join(" ")))
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
    let amount = |raw: &Option<Box<RawValue>>| raw.as_deref().map(lenient::amount).transpose();
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
    account.min_allowed_balance = amount(&raw.min_allowed_balance)?.flatten();
    account.max_allowed_balance = amount(&raw.max_allowed_balance)?.flatten();
    Ok(account)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;

    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).expect("raw json")
    }

    #[test]
    fn amounts_are_read_exactly_from_strings_and_numbers() {
        assert_eq!(
            lenient::amount(&raw(r#""-1000.00""#)).ok().flatten(),
            Some(Decimal::new(-100000, 2))
        );
        assert_eq!(
            lenient::amount(&raw(r#"" +25.5 ""#)).ok().flatten(),
            Some(Decimal::new(2550, 2))
        );
        // 17 significant digits: a float would round this to ...567.9 or worse.
        assert_eq!(
            lenient::amount(&raw("1234567890123456.78")).ok().flatten(),
            Some(Decimal::new(123456789012345678, 2))
        );
        assert_eq!(
            lenient::amount(&raw("1.5E3")).ok().flatten(),
            Some(Decimal::new(1500, 0))
        );
        assert_eq!(lenient::amount(&raw("null")).ok(), Some(None));
        assert!(matches!(
            lenient::amount(&raw(r#""12,50""#)),
            Err(ConnectorError::Protocol { .. })
        ));
        assert!(matches!(
            lenient::amount(&raw("true")),
            Err(ConnectorError::Protocol { .. })
        ));
    }

    #[test]
    fn dates_are_read_in_iso_and_compact_form() {
        let day = NaiveDate::from_ymd_opt(1990, 4, 12);
        assert_eq!(date(Some("1990-04-12")).ok().flatten(), day);
        assert_eq!(date(Some("19900412")).ok().flatten(), day);
        assert_eq!(date(Some("1990-04-12T00:00:00Z")).ok().flatten(), day);
        assert_eq!(date(Some(" ")).ok(), Some(None));
        assert!(date(Some("12.04.1990")).is_err());
    }

    #[test]
    fn ibans_are_told_from_account_numbers_by_type_or_by_shape() {
        assert!(is_iban("DE27100200300012345678", None));
        assert!(!is_iban("0012345678", None));
        assert!(!is_iban("DE27100200300012345678", Some("ACCNO")));
        assert!(is_iban("0012345678", Some("iban")));
    }
}
