//! Ending a session at the bank: single access leaves no standing access behind.

use aisle_sdk::{BankSession, ConnectorError};
use reqwest::{Method, StatusCode};

use crate::BerlinGroupConnector;
use crate::errors::Request;
use crate::oauth;
use crate::state::SessionSecret;

impl BerlinGroupConnector {
    /// `DELETE /v1/consents/{id}`, then, for an OAuth2 session, the token's revocation.
    /// A consent already gone (expired, deleted, unknown) is what was wanted. Both steps are
    /// tried; the first failure is reported.
    pub(crate) async fn end(&self, session: &BankSession) -> Result<(), ConnectorError> {
        let secret = SessionSecret::decode(&session.secret)?;
        let deleted = self.delete_consent(&secret).await;
        let revoked = match (&secret.access_token, &secret.revocation_endpoint) {
            (Some(token), Some(endpoint)) => {
                let client_id = self.options.oauth_client_id.as_deref();
                oauth::revoke(&self.client, endpoint, client_id, token).await
            }
            _ => Ok(()),
        };
        deleted.and(revoked)
    }

    /// `DELETE /v1/consents/{id}`; a consent already gone is what was wanted.
    pub(crate) async fn delete_consent(
        &self,
        secret: &SessionSecret,
    ) -> Result<(), ConnectorError> {
        let url = self
            .client
            .endpoint(&["v1", "consents", &secret.consent_id])?;
        let answer = self
            .client
            .send_raw(self.client.consented(Method::DELETE, url, secret, false))
            .await?;
        if answer.status.is_success() || answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        match answer.error(Request::Other) {
            ConnectorError::ConsentExpired => Ok(()),
            error => Err(error),
        }
    }
}
