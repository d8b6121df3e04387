//! Settings (seed 001): change the password (old and new twice), change the email (confirmed
//! by a link to the new address before it takes effect), change the phone (SMS code to the new
//! number), edit personal data.

use time::Duration;

use super::{
    Authenticated, CodeRejected, Delivery, IdentityService, ModifyError, port_only_error,
    unexpected_duplicate,
};
use crate::domain::{ChallengeId, ClientInfo, Email, LoginHandle, PersonName, Phone};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{ChallengePurpose, Message, Purpose, SecurityEventKind, ThrottleKey};
use crate::password::{PasswordRejected, check_new_password};
use crate::ports::PortError;
use crate::secret::Secret;

/// A password change.
#[derive(Debug, Clone)]
pub struct ChangePassword {
    /// The current password.
    pub old: Secret<String>,
    /// The new password.
    pub new: Secret<String>,
    /// The new password again.
    pub new_repeat: Secret<String>,
}

/// Errors of [`IdentityService::change_password`].
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// The current password is wrong.
    #[error("wrong current password")]
    WrongPassword,
    /// Too many wrong current passwords (counted with failed logins); wait `retry_after`.
    #[error("too many failed attempts, retry after {retry_after}")]
    TooManyAttempts {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The new password breaks a rule.
    #[error(transparent)]
    Password(#[from] PasswordRejected),
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ChangePasswordError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::WrongPassword => "Текущий пароль введён неверно.",
            Self::TooManyAttempts { .. } => "Слишком много неудачных попыток. Попробуйте позже.",
            Self::Password(e) => e.user_message(),
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::request_email_change`].
#[derive(Debug, thiserror::Error)]
pub enum ChangeEmailError {
    /// The two entries differ.
    #[error("the addresses do not match")]
    Mismatch,
    /// The new address is the current one.
    #[error("same as the current address")]
    SameAsCurrent,
    /// Too many messages to this address; wait `retry_after`.
    #[error("too many messages, retry after {retry_after}")]
    TooManyCodes {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ChangeEmailError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Mismatch => "Адреса не совпадают.",
            Self::SameAsCurrent => "Этот адрес уже указан в личном кабинете.",
            Self::TooManyCodes { .. } => "Слишком много писем на этот адрес. Попробуйте позже.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::request_phone_change`].
#[derive(Debug, thiserror::Error)]
pub enum ChangePhoneError {
    /// The new phone is the current one.
    #[error("same as the current phone")]
    SameAsCurrent,
    /// Too many codes to this phone; wait `retry_after`.
    #[error("too many codes, retry after {retry_after}")]
    TooManyCodes {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ChangePhoneError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::SameAsCurrent => "Этот номер уже указан в личном кабинете.",
            Self::TooManyCodes { .. } => {
                "Слишком много запросов кода на этот номер. Попробуйте позже."
            }
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::confirm_phone_change`].
#[derive(Debug, thiserror::Error)]
pub enum ConfirmPhoneChangeError {
    /// The code was not accepted.
    #[error(transparent)]
    Code(#[from] CodeRejected),
    /// Another cabinet confirmed this phone first.
    #[error("phone already registered")]
    PhoneTaken,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ConfirmPhoneChangeError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Code(e) => e.user_message(),
            Self::PhoneTaken => "Этот номер уже используется в другом личном кабинете.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

port_only_error!(
    /// Errors of [`IdentityService::update_personal_data`].
    UpdatePersonalDataError
);

impl IdentityService {
    /// Changes the password: the current one must be right (wrong ones count towards the login
    /// throttle), the new one must pass the rules. Every other session ends.
    pub async fn change_password(
        &self,
        auth: &Authenticated,
        request: ChangePassword,
        client: &ClientInfo,
    ) -> Result<(), ChangePasswordError> {
        let now = self.now();
        let record = self.fetch_subscriber(auth.subscriber).await?;
        let key = ThrottleKey::login_subscriber(record.id);
        if let Err(retry_after) = self.reserve(&self.policy.login, &key, now).await? {
            return Err(ChangePasswordError::TooManyAttempts { retry_after });
        }
        if !self
            .verify_password(&request.old, record.password_hash.as_ref())
            .await?
        {
            // The reservation stays as this failure's record.
            self.log(record.id, SecurityEventKind::SignInFailed, client, now)
                .await?;
            return Err(ChangePasswordError::WrongPassword);
        }
        self.release(&key, now).await?;
        let words = record.personal_words();
        let password = check_new_password(
            &self.policy.password,
            &request.new,
            &request.new_repeat,
            &words,
            &[record.name.as_str().to_owned()],
        )?;
        let new_hash = self.ports.hasher.hash(&password).await?;
        let verified = record.password_hash.clone();
        let record = self
            .modify_subscriber(record.id, |current| {
                // If the password changed since it was verified, the one given is not the
                // current password any more.
                if current.password_hash != verified {
                    return Err(ChangePasswordError::WrongPassword);
                }
                current.password_hash = Some(new_hash.clone());
                Ok(())
            })
            .await
            .map_err(|e| e.into_error(unexpected_duplicate))?;
        self.ports
            .sessions
            .revoke_all(record.id, Some(auth.session), now)
            .await?;
        self.log(record.id, SecurityEventKind::PasswordChanged, client, now)
            .await?;
        self.notify(&record, Message::PasswordChanged).await;
        Ok(())
    }

    /// Asks to change the email: the new address becomes the pending one, a link goes to it and
    /// the change happens only when it is followed ([`IdentityService::confirm_email`]); an
    /// earlier pending address can no longer be confirmed. If the address is throttled it stays
    /// pending and [`IdentityService::resend_email_confirmation`] sends the link later. If another cabinet owns the
    /// address, it gets a notice instead, and the answer is the same. The old address is told.
    pub async fn request_email_change(
        &self,
        auth: &Authenticated,
        new: &Email,
        new_repeat: &Email,
    ) -> Result<(), ChangeEmailError> {
        let now = self.now();
        if new != new_repeat {
            return Err(ChangeEmailError::Mismatch);
        }
        let record = self
            .modify_subscriber(auth.subscriber, |record| {
                if record.email.as_ref() == Some(new) {
                    return Err(ChangeEmailError::SameAsCurrent);
                }
                record.pending_email = Some(new.clone());
                Ok(())
            })
            .await
            .map_err(|e| e.into_error(unexpected_duplicate))?;
        self.send_email_confirmation(record.id, new, now)
            .await?
            .map_err(|retry_after| ChangeEmailError::TooManyCodes { retry_after })?;
        if let Some(old) = &record.email {
            let _ignored = self
                .ports
                .email
                .send(old, &Message::EmailChangeRequested)
                .await;
        }
        Ok(())
    }

    /// Asks to change the phone: an SMS code goes to the new number (a notice instead if another
    /// cabinet owns it; the answer is the same). Confirm with [`Self::confirm_phone_change`].
    pub async fn request_phone_change(
        &self,
        auth: &Authenticated,
        new: &Phone,
    ) -> Result<ChallengeId, ChangePhoneError> {
        let now = self.now();
        let record = self.fetch_subscriber(auth.subscriber).await?;
        if record.phone.as_ref() == Some(new) {
            return Err(ChangePhoneError::SameAsCurrent);
        }
        let owner = self
            .ports
            .subscribers
            .find_by_handle(&LoginHandle::Phone(new.clone()))
            .await?;
        let (purpose, delivery) = match owner {
            Some(_) => (
                ChallengePurpose::Decoy {
                    phone: new.clone(),
                    notify: true,
                },
                Delivery::Notice,
            ),
            None => (
                ChallengePurpose::ChangePhone {
                    subscriber: record.id,
                    phone: new.clone(),
                },
                Delivery::Code(Purpose::ChangePhone),
            ),
        };
        self.issue_code(purpose, new, self.policy.codes.ttl, delivery, now)
            .await?
            .map_err(|retry_after| ChangePhoneError::TooManyCodes { retry_after })
    }

    /// Confirms a new phone with the SMS code; the old phone is told.
    pub async fn confirm_phone_change(
        &self,
        auth: &Authenticated,
        challenge: ChallengeId,
        code: &Secret<String>,
        client: &ClientInfo,
    ) -> Result<(), ConfirmPhoneChangeError> {
        let now = self.now();
        let found = self.check_code(challenge, code, now).await??;
        let phone = match &found.purpose {
            ChallengePurpose::ChangePhone { subscriber, phone }
                if *subscriber == auth.subscriber =>
            {
                phone.clone()
            }
            _ => return Err(CodeRejected::Invalid.into()),
        };
        self.consume(&found, now).await??;
        let mut old = None;
        let record = self
            .modify_subscriber(auth.subscriber, |record| {
                old = record.phone.replace(phone.clone());
                Ok(())
            })
            .await
            .map_err(|e| e.into_error(|| ConfirmPhoneChangeError::PhoneTaken))?;
        self.log(record.id, SecurityEventKind::PhoneChanged, client, now)
            .await?;
        if let Some(old) = old {
            let _ignored = self.ports.sms.send(&old, &Message::PhoneChanged).await;
        }
        Ok(())
    }

    /// Edits personal data (the name shown in the cabinet).
    pub async fn update_personal_data(
        &self,
        auth: &Authenticated,
        name: PersonName,
        client: &ClientInfo,
    ) -> Result<(), UpdatePersonalDataError> {
        let now = self.now();
        let record = self
            .modify_subscriber(auth.subscriber, |record| {
                record.name = name.clone();
                Ok(())
            })
            .await
            .map_err(|e: ModifyError<UpdatePersonalDataError>| {
                e.into_error(unexpected_duplicate)
            })?;
        self.log(
            record.id,
            SecurityEventKind::PersonalDataChanged,
            client,
            now,
        )
        .await?;
        Ok(())
    }
}
