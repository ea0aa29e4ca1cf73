//! The interactive sign-in, shared by the widget and the redirection: the owner picks a bank,
//! answers its steps (its SCA page, or forms Aisle hosts), and the sign-in ends with a session
//! or an error code. Bank failures are outcomes (a failed sign-in), not errors of this module.

use std::{collections::BTreeMap, net::IpAddr};

use aisle_sdk::{
    ConnectorError, FormFieldKind, SignInCallback, SignInProgress, SignInRequest, SignInStep,
};
use rand::RngCore;
use sqlx::PgPool;
use uuid::Uuid;

use super::session::{Issuer, SignedIn};
use crate::{
    commands::start::EnqueueError,
    model::command::CommandErrorCode,
    registry::{Bank, Registry},
    store::signins::{self, Choice, ClaimFrom, Field, NewSignIn, SignIn, Step},
    webhooks::outbox,
};

/// The longest answer to one form field we pass on to a bank.
const MAX_ANSWER_LEN: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("no such sign-in")]
    NotFound,
    #[error("this sign-in has ended or expired")]
    Closed,
    #[error("this sign-in is answering a step already; try again in a moment")]
    Busy,
    #[error("the sign-in is not at this kind of step")]
    WrongStep,
    #[error("bank `{0}` is not offered here")]
    BankNotOffered(String),
    #[error("{0}")]
    InvalidAnswer(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The auto import could not be queued, so the session was not issued either.
    #[error("auto import: {0}")]
    AutoImport(#[source] EnqueueError),
}

impl From<EnqueueError> for FlowError {
    fn from(e: EnqueueError) -> Self {
        match e {
            EnqueueError::Database(db) => Self::Database(db),
            other => Self::AutoImport(other),
        }
    }
}

/// Everything a sign-in step needs.
pub struct Flow<'a> {
    pub pool: &'a PgPool,
    pub registry: &'a Registry,
    pub issuer: Issuer<'a>,
    /// Our public URL: the bank sends the owner back to `{public_url}/signin/callback/{token}`.
    pub public_url: &'a str,
    /// How long an owner has to finish a sign-in.
    pub ttl: chrono::Duration,
}

/// The banks an owner may pick, in `country` when given.
pub fn offered<'r>(registry: &'r Registry, country: Option<&str>) -> Vec<&'r Bank> {
    registry
        .banks()
        .filter(|bank| country.is_none_or(|c| bank.entry.country.eq_ignore_ascii_case(c)))
        .collect()
}

impl Flow<'_> {
    /// Opens a sign-in; a preselected bank the owner may use is begun at once.
    pub async fn start(
        &self,
        new: &NewSignIn,
        owner_ip: Option<IpAddr>,
    ) -> Result<SignIn, FlowError> {
        let signin = signins::insert(self.pool, new).await?;
        match &new.preselected_bank {
            Some(bank)
                if offered(self.registry, new.country.as_deref())
                    .iter()
                    .any(|b| &b.entry.id == bank) =>
            {
                self.choose_bank(signin.id, bank, owner_ip).await
            }
            _ => Ok(signin),
        }
    }

    /// Opens a sign-in without beginning at any bank: a redirection, whose owner is not
    /// present yet. [`Self::arrive`] begins a preselected bank once they are.
    pub async fn open(&self, new: &NewSignIn) -> Result<SignIn, FlowError> {
        Ok(signins::insert(self.pool, new).await?)
    }

    /// The owner opened the sign-in's page from `owner_ip`: a sign-in still at the bank
    /// list whose bank was preselected begins there now, with the owner's address.
    pub async fn arrive(
        &self,
        signin: SignIn,
        owner_ip: Option<IpAddr>,
    ) -> Result<SignIn, FlowError> {
        match &signin.opened.preselected_bank {
            Some(bank)
                if signin.status == signins::Status::Picking
                    && !signin.expired(chrono::Utc::now())
                    && offered(self.registry, signin.opened.country.as_deref())
                        .iter()
                        .any(|b| &b.entry.id == bank) =>
            {
                let bank = bank.clone();
                self.choose_bank(signin.id, &bank, owner_ip).await
            }
            _ => Ok(signin),
        }
    }

    /// A fresh sign-in with the same parameters as the failed or expired widget sign-in `id`.
    pub async fn retry(&self, id: Uuid, owner_ip: Option<IpAddr>) -> Result<SignIn, FlowError> {
        let old = signins::find(self.pool, id)
            .await?
            .ok_or(FlowError::NotFound)?;
        let ended = old.status == signins::Status::Failed || old.expired(chrono::Utc::now());
        if old.opened.channel != signins::Channel::Widget || !ended {
            return Err(FlowError::WrongStep);
        }
        let new = NewSignIn {
            expires_at: chrono::Utc::now() + self.ttl,
            ..old.opened
        };
        self.start(&new, owner_ip).await
    }

    /// Begins the sign-in at `bank_id` (from the bank list, or instead of the current bank).
    pub async fn choose_bank(
        &self,
        id: Uuid,
        bank_id: &str,
        owner_ip: Option<IpAddr>,
    ) -> Result<SignIn, FlowError> {
        let signin = self.claim(id, ClaimFrom::AnyOpen).await?;
        let Some(bank) = offered(self.registry, signin.opened.country.as_deref())
            .into_iter()
            .find(|bank| bank.entry.id == bank_id)
        else {
            self.release(&signin).await?;
            return Err(FlowError::BankNotOffered(bank_id.to_string()));
        };
        let token = random_token();
        let begun = bank
            .connector
            .begin_sign_in(&SignInRequest {
                psu_id: None,
                psu_ip_address: owner_ip.map(|ip| ip.to_string()),
                redirect_uri: format!(
                    "{}/signin/callback/{token}",
                    self.public_url.trim_end_matches('/')
                ),
                max_import_date: signin.opened.max_import_date,
                force_sca: signin.opened.force_sca,
            })
            .await;
        tracing::info!(signin = %log_id(id), bank = %bank.entry.id, ok = begun.is_ok(), "sign-in begun");
        match begun {
            Ok(step) => self.next_step(&signin, bank, step, &token).await,
            Err(e) => self.failed(&signin, bank, &e).await,
        }
    }

    /// Answers the current form step with the owner's `values`.
    pub async fn answer_form(
        &self,
        id: Uuid,
        values: &BTreeMap<String, String>,
    ) -> Result<SignIn, FlowError> {
        let signin = self.claim(id, ClaimFrom::Step).await?;
        let params = match signin.step.as_ref().map(|step| &step.0) {
            Some(Step::Form { fields }) => answers(fields, values),
            Some(Step::Choose { name, options, .. }) => choice(name, options, values),
            _ => {
                self.release(&signin).await?;
                return Err(FlowError::WrongStep);
            }
        };
        let params = match params {
            Ok(params) => params,
            Err(e) => {
                self.release(&signin).await?;
                return Err(e);
            }
        };
        self.complete(signin, params).await
    }

    /// Asks the bank again whether the owner approved (a waiting step: decoupled SCA, or a
    /// consent the bank is still confirming). The page polls this at the step's pace.
    pub async fn poll(&self, id: Uuid) -> Result<SignIn, FlowError> {
        let signin = self.claim(id, ClaimFrom::Step).await?;
        if !matches!(signin.step.as_deref(), Some(Step::Wait { .. })) {
            self.release(&signin).await?;
            return Err(FlowError::WrongStep);
        }
        self.complete(signin, BTreeMap::new()).await
    }

    /// The bank sent the owner back to `/signin/callback/{token}` with `params`.
    pub async fn bank_callback(
        &self,
        token: &str,
        params: BTreeMap<String, String>,
    ) -> Result<SignIn, FlowError> {
        let found = signins::find_by_callback_token(self.pool, token)
            .await?
            .ok_or(FlowError::NotFound)?;
        let signin = self.claim(found.id, ClaimFrom::Step).await?;
        // The token names the bank attempt; a callback from an abandoned one is refused.
        if signin.callback_token.as_deref() != Some(token)
            || !matches!(signin.step.as_deref(), Some(Step::Redirect { .. }))
        {
            self.release(&signin).await?;
            return Err(FlowError::WrongStep);
        }
        self.complete(signin, params).await
    }

    /// Leaves the current bank's step for the bank list.
    pub async fn back_to_banks(&self, id: Uuid) -> Result<SignIn, FlowError> {
        let signin = self.claim(id, ClaimFrom::Step).await?;
        Ok(signins::reopen(self.pool, signin.id).await?)
    }

    async fn complete(
        &self,
        signin: SignIn,
        params: BTreeMap<String, String>,
    ) -> Result<SignIn, FlowError> {
        let bank_id = signin.bank_id.clone().unwrap_or_default();
        let Some(bank) = self.registry.get(&bank_id) else {
            let detail = format!("bank {bank_id} is no longer in the registry");
            return self.fail(signin.id, None, "Internal", &detail).await;
        };
        let pending = signin
            .pending_sealed
            .as_deref()
            .map(|sealed| self.issuer.sealer.open(sealed, signin.id.as_bytes()));
        let Some(Ok(pending)) = pending else {
            tracing::error!(signin = %log_id(signin.id), "the sign-in's pending state does not open");
            let detail = "the sign-in's state could not be read";
            return self.fail(signin.id, None, "Internal", detail).await;
        };
        let completed = bank
            .connector
            .complete_sign_in(&SignInCallback { pending, params })
            .await;
        tracing::info!(signin = %log_id(signin.id), bank = %bank_id, ok = completed.is_ok(), "sign-in step answered");
        match completed {
            Ok(SignInProgress::Next(step)) => {
                let token = signin.callback_token.clone().unwrap_or_else(random_token);
                self.next_step(&signin, bank, step, &token).await
            }
            Ok(SignInProgress::Done(bank_session)) => {
                let mut tx = self.pool.begin().await?;
                let issued = self
                    .issuer
                    .issue(
                        &mut tx,
                        &SignedIn {
                            client_id: signin.opened.client_id,
                            bank_id: &bank.entry.id,
                            owner_external_id: &signin.opened.owner_external_id,
                            max_import_date: signin.opened.max_import_date,
                            force_sca: signin.opened.force_sca,
                            auto_import_months: signin.opened.auto_import_months,
                        },
                        &bank_session,
                    )
                    .await?;
                let done =
                    signins::succeed(&mut tx, signin.id, &bank.entry.id, issued.session_id).await?;
                outbox::signin_ended(&mut tx, &done).await?;
                tx.commit().await?;
                Ok(done)
            }
            Err(e) => self.failed(&signin, bank, &e).await,
        }
    }

    async fn next_step(
        &self,
        signin: &SignIn,
        bank: &Bank,
        step: SignInStep,
        token: &str,
    ) -> Result<SignIn, FlowError> {
        let (step, pending) = match step {
            SignInStep::Redirect { url, pending } => (Step::Redirect { url }, pending),
            SignInStep::Form { fields, pending } => (
                Step::Form {
                    fields: fields
                        .into_iter()
                        .map(|field| Field {
                            name: field.name,
                            label: field.label,
                            kind: field_kind(field.kind).into(),
                        })
                        .collect(),
                },
                pending,
            ),
            SignInStep::Choose {
                name,
                label,
                options,
                pending,
            } => (
                Step::Choose {
                    name,
                    label,
                    options: options
                        .into_iter()
                        .map(|o| Choice {
                            value: o.value,
                            label: o.label,
                        })
                        .collect(),
                },
                pending,
            ),
            SignInStep::Wait {
                message,
                poll_after,
                pending,
            } => (
                Step::Wait {
                    message,
                    poll_after_ms: u64::try_from(poll_after.as_millis()).unwrap_or(u64::MAX),
                },
                pending,
            ),
        };
        let sealed = self.issuer.sealer.seal(&pending, signin.id.as_bytes());
        Ok(signins::advance(self.pool, signin.id, &bank.entry.id, &step, &sealed, token).await?)
    }

    async fn failed(
        &self,
        signin: &SignIn,
        bank: &Bank,
        error: &ConnectorError,
    ) -> Result<SignIn, FlowError> {
        tracing::info!(signin = %log_id(signin.id), bank = %bank.entry.id, %error, "sign-in failed");
        self.fail(
            signin.id,
            Some(&bank.entry.id),
            sign_in_code(error),
            &error.to_string(),
        )
        .await
    }

    /// Ends the sign-in with an error, and its `signin.failed` webhook event with it.
    async fn fail(
        &self,
        id: Uuid,
        bank_id: Option<&str>,
        code: &str,
        detail: &str,
    ) -> Result<SignIn, FlowError> {
        let mut tx = self.pool.begin().await?;
        let failed = signins::fail(&mut *tx, id, bank_id, code, detail).await?;
        outbox::signin_ended(&mut tx, &failed).await?;
        tx.commit().await?;
        Ok(failed)
    }

    /// Takes this sign-in's turn, or says why not.
    async fn claim(&self, id: Uuid, from: ClaimFrom) -> Result<SignIn, FlowError> {
        if let Some(signin) = signins::claim(self.pool, id, from).await? {
            return Ok(signin);
        }
        let signin = signins::find(self.pool, id)
            .await?
            .ok_or(FlowError::NotFound)?;
        let open = matches!(
            signin.status,
            signins::Status::Picking | signins::Status::InProgress
        );
        if open && !signin.expired(chrono::Utc::now()) {
            // Open and unexpired, so either another request holds the turn or (for a step
            // answer) no bank was picked yet.
            return Err(if signin.status == signins::Status::Picking {
                FlowError::WrongStep
            } else {
                FlowError::Busy
            });
        }
        Err(FlowError::Closed)
    }

    /// Gives the turn back without changing the step.
    async fn release(&self, signin: &SignIn) -> Result<(), sqlx::Error> {
        signins::release(self.pool, signin.id).await
    }
}

/// The owner's answers to `fields`: every field answered, nothing else passed on.
fn answers(
    fields: &[Field],
    values: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, FlowError> {
    fields
        .iter()
        .map(|field| {
            let raw = values.get(&field.name).map_or("", String::as_str);
            // A secret is passed on as typed: its spaces may be part of it.
            let value = if field.kind == "secret" {
                raw
            } else {
                raw.trim()
            };
            if value.trim().is_empty() {
                return Err(FlowError::InvalidAnswer(format!(
                    "{} is required",
                    field.label
                )));
            }
            if value.len() > MAX_ANSWER_LEN {
                return Err(FlowError::InvalidAnswer(format!(
                    "{} is too long",
                    field.label
                )));
            }
            Ok((field.name.clone(), value.to_string()))
        })
        .collect()
}

/// The code a failed sign-in shows. A bank that signs in only in a way Aisle does not
/// speak (an SCA approach, an encrypted password) is the bank's limit, not Aisle's fault.
fn sign_in_code(error: &ConnectorError) -> &'static str {
    match error {
        ConnectorError::Unsupported(_) => "NotSupportedByBank",
        other => CommandErrorCode::for_bank_error(other).as_str(),
    }
}

/// The answer to a choice step: one of its options, under its name.
fn choice(
    name: &str,
    options: &[Choice],
    values: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, FlowError> {
    let value = values
        .get(name)
        .filter(|v| options.iter().any(|o| &o.value == *v))
        .ok_or_else(|| FlowError::InvalidAnswer(format!("choose one of the options for {name}")))?;
    Ok(BTreeMap::from([(name.to_owned(), value.clone())]))
}

fn field_kind(kind: FormFieldKind) -> &'static str {
    match kind {
        FormFieldKind::Text => "text",
        FormFieldKind::Date => "date",
        FormFieldKind::Phone => "phone",
        FormFieldKind::Secret => "secret",
        FormFieldKind::OneTimeCode => "oneTimeCode",
    }
}

/// How logs name a sign-in: its id is the owner's capability, so only its first 32 bits, enough
/// to follow one sign-in through the logs and far too few to use.
fn log_id(id: Uuid) -> String {
    id.simple().to_string()[..8].to_string()
}

/// 256 random bits as hex: the part of a sign-in the bank sees.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Field {
        Field {
            name: name.into(),
            label: name.to_uppercase(),
            kind: "text".into(),
        }
    }

    #[test]
    fn a_form_answer_passes_on_exactly_the_fields_asked_trimmed_but_for_secrets() {
        let values = BTreeMap::from([
            ("login".to_string(), " alice ".to_string()),
            ("pin".to_string(), " 12 34 ".to_string()),
            ("extra".to_string(), "smuggled".to_string()),
        ]);
        let pin = Field {
            kind: "secret".into(),
            ..field("pin")
        };
        let params = answers(&[field("login"), pin], &values).unwrap();
        assert_eq!(
            params,
            BTreeMap::from([
                ("login".into(), "alice".into()),
                ("pin".into(), " 12 34 ".into())
            ])
        );
    }

    #[test]
    fn a_form_answer_with_a_blank_or_huge_field_is_refused() {
        let blank = BTreeMap::from([("login".to_string(), "  ".to_string())]);
        assert!(matches!(
            answers(&[field("login")], &blank),
            Err(FlowError::InvalidAnswer(_))
        ));
        let huge = BTreeMap::from([("login".to_string(), "x".repeat(MAX_ANSWER_LEN + 1))]);
        assert!(answers(&[field("login")], &huge).is_err());
    }
}
