//! Keeps account numbers, national ids and phone numbers out of the logs: bank bodies quoted
//! in a [`ConnectorError::Protocol`] go through here first.

use crate::ConnectorError;

/// `text` with every run of five or more digits masked. Runs of eight or more keep their last
/// four digits, enough to tell accounts apart in a log; shorter runs (one-time codes, postal
/// codes) are masked whole. Response codes and dates' parts are shorter and stay readable.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let len = run.chars().count();
        if len < 5 {
            out.push_str(run);
        } else {
            let keep = if len >= 8 { 4 } else { 0 };
            out.extend(std::iter::repeat_n('*', len - keep));
            out.extend(run.chars().skip(len - keep));
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A [`ConnectorError::Protocol`] whose message and snippet are both redacted: serde's
/// messages quote the offending value, and that value may be an account number.
pub fn protocol(message: &str, body: &str) -> ConnectorError {
    ConnectorError::protocol(redact(message), &redact(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_digit_runs_keep_only_their_last_four_digits() {
        assert_eq!(
            redact(r#"{"accno":"0012345678","iban":"DE27100200300012345678"}"#),
            r#"{"accno":"******5678","iban":"DE****************5678"}"#
        );
    }

    #[test]
    fn short_codes_and_dates_stay_readable_and_mid_length_runs_vanish() {
        assert_eq!(
            redact(r#"{"responseCode":"0008","birthDate":"1990-04-12","otp":"123456"}"#),
            r#"{"responseCode":"0008","birthDate":"1990-04-12","otp":"******"}"#
        );
    }
}
