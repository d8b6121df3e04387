//! Password recovery by emailed link or SMS code: single use, 1 hour at most; success sets
//! the new password, unblocks a blocked cabinet and ends every session. Starting recovery never
//! reveals whether the email or phone has a cabinet.

use time::Duration;

use super::{CodeRejected, Delivery, IdentityService, ModifyError, unexpected_duplicate};
use crate::domain::{ChallengeId, ClientInfo, Email, LoginHandle, Phone};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{
    CabinetStatus, Challenge, ChallengePurpose, Message, Purpose, SecurityEventKind, ThrottleKey,
};
use crate::password::{PasswordRejected, check_new_password};
use crate::ports::PortError;
use crate::secret::Secret;

/// Where to send the recovery secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryTarget {
    /// A link to this address.
    Email(Email),
    /// An SMS code to this phone.
    Phone(Phone),
}

/// A request to start recovery.
#[derive(Debug, Clone)]
pub struct RecoveryRequest {
    /// Where to send the link or code.
    pub target: RecoveryTarget,
    /// The captcha answer.
    pub captcha: Secret<String>,
}

/// Errors of [`IdentityService::start_recovery`].
#[derive(Debug, thiserror::Error)]
pub enum StartRecoveryError {
    /// Wrong captcha.
    #[error("captcha failed")]
    CaptchaFailed,
    /// Too many messages to this address or phone (registered or not); wait `retry_after`.
    #[error("too many codes, retry after {retry_after}")]
    TooManyCodes {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for StartRecoveryError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::CaptchaFailed => "Неверно введён код с картинки.",
            Self::TooManyCodes { .. } => "Слишком много запросов. Попробуйте позже.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::complete_recovery_by_link`] and
/// [`IdentityService::complete_recovery_by_code`].
#[derive(Debug, thiserror::Error)]
pub enum CompleteRecoveryError {
    /// The link or code was not accepted.
    #[error(transparent)]
    Code(#[from] CodeRejected),
    /// The new password breaks a rule; the link or code stays usable.
    #[error(transparent)]
    Password(#[from] PasswordRejected),
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for CompleteRecoveryError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Code(e) => e.user_message(),
            Self::Password(e) => e.user_message(),
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

impl IdentityService {
    /// Starts recovery. For an email, a link goes to the address if it has a cabinet, and the
    /// result is `None` either way. For a phone, an SMS code goes to it if it has a cabinet, and
    /// a challenge id comes back either way (a decoy for an unknown phone). The delivery limit
    /// applies to registered and unknown targets alike.
    pub async fn start_recovery(
        &self,
        request: RecoveryRequest,
    ) -> Result<Option<ChallengeId>, StartRecoveryError> {
        let now = self.now();
        if !self.captcha_ok(&request.captcha).await? {
            return Err(StartRecoveryError::CaptchaFailed);
        }
        let too_many = |retry_after| StartRecoveryError::TooManyCodes { retry_after };
        match request.target {
            RecoveryTarget::Email(email) => {
                let owner = self
                    .ports
                    .subscribers
                    .find_by_handle(&LoginHandle::Email(email.clone()))
                    .await?;
                if let Some(owner) = owner {
                    let purpose = (
                        ChallengePurpose::RecoverByEmail {
                            subscriber: owner.id,
                        },
                        Purpose::Recovery,
                    );
                    self.issue_link(Some(purpose), &email, self.policy.codes.recovery_ttl, now)
                        .await?
                        .map_err(too_many)?;
                } else {
                    let key = ThrottleKey::delivery_email(&email);
                    self.reserve(&self.policy.delivery, &key, now)
                        .await?
                        .map_err(too_many)?;
                }
                Ok(None)
            }
            RecoveryTarget::Phone(phone) => {
                let owner = self
                    .ports
                    .subscribers
                    .find_by_handle(&LoginHandle::Phone(phone.clone()))
                    .await?;
                let (purpose, delivery) = match owner {
                    Some(owner) => (
                        ChallengePurpose::RecoverByPhone {
                            subscriber: owner.id,
                        },
                        Delivery::Code(Purpose::Recovery),
                    ),
                    None => (
                        ChallengePurpose::Decoy {
                            phone: phone.clone(),
                            notify: false,
                        },
                        Delivery::Nothing,
                    ),
                };
                let ttl = self.policy.codes.ttl.min(self.policy.codes.recovery_ttl);
                let id = self
                    .issue_code(purpose, &phone, ttl, delivery, now)
                    .await?
                    .map_err(too_many)?;
                Ok(Some(id))
            }
        }
    }

    /// Sets a new password with the token from the recovery email.
    pub async fn complete_recovery_by_link(
        &self,
        token: &Secret<String>,
        password: &Secret<String>,
        password_repeat: &Secret<String>,
        client: &ClientInfo,
    ) -> Result<(), CompleteRecoveryError> {
        let now = self.now();
        let found = self.check_link(token, now).await??;
        self.finish_recovery(found, password, password_repeat, client, now)
            .await
    }

    /// Sets a new password with the SMS recovery code.
    pub async fn complete_recovery_by_code(
        &self,
        challenge: ChallengeId,
        code: &Secret<String>,
        password: &Secret<String>,
        password_repeat: &Secret<String>,
        client: &ClientInfo,
    ) -> Result<(), CompleteRecoveryError> {
        let now = self.now();
        let found = self.check_code(challenge, code, now).await??;
        self.finish_recovery(found, password, password_repeat, client, now)
            .await
    }

    async fn finish_recovery(
        &self,
        found: Challenge,
        password: &Secret<String>,
        password_repeat: &Secret<String>,
        client: &ClientInfo,
        now: time::OffsetDateTime,
    ) -> Result<(), CompleteRecoveryError> {
        let (ChallengePurpose::RecoverByEmail { subscriber }
        | ChallengePurpose::RecoverByPhone { subscriber }) = found.purpose
        else {
            return Err(CodeRejected::Invalid.into());
        };
        let Some(record) = self.ports.subscribers.get(subscriber).await? else {
            return Err(CodeRejected::Invalid.into());
        };
        let words = record.personal_words();
        let password = check_new_password(
            &self.policy.password,
            password,
            password_repeat,
            &words,
            &[record.name.as_str().to_owned()],
        )?;
        let hash = self.ports.hasher.hash(&password).await?;
        self.consume(&found, now).await??;
        let record = self
            .modify_subscriber(subscriber, |record| {
                record.password_hash = Some(hash.clone());
                record.status = CabinetStatus::Active;
                Ok(())
            })
            .await
            .map_err(|e: ModifyError<CompleteRecoveryError>| e.into_error(unexpected_duplicate))?;
        let sessions = self.ports.sessions.revoke_all(record.id, None, now).await?;
        self.log(record.id, SecurityEventKind::PasswordRecovered, client, now)
            .await?;
        self.log(
            record.id,
            SecurityEventKind::SignedOutEverywhere { sessions },
            client,
            now,
        )
        .await?;
        self.notify(&record, Message::PasswordChanged).await;
        Ok(())
    }
}
