//! Registration: by phone and email (seeds 000, 001, 004) and by ЛС with the holder's name or
//! a meter number (seeds 002, 003), then confirmation of the phone by SMS code and of the
//! email by link. Neither flow reveals whether a phone, email or ЛС already has a cabinet.

use time::Duration;

use super::{Authenticated, CodeRejected, Delivery, IdentityService};
use crate::crypto::random_bytes;
use crate::domain::{
    AccountRef, ChallengeId, ClientInfo, ConsentId, Email, LoginHandle, MeterNumber, PersonName,
    Phone, SubscriberId,
};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{
    CabinetStatus, ChallengePurpose, Consent, ConsentDocument, LinkProof, LinkedAccount, Message,
    Purpose, RegistrationDraft, SecurityEventKind, Subscriber, ThrottleKey,
};
use crate::password::{PasswordHash, PasswordRejected, check_new_password};
use crate::ports::{PortError, WriteError};
use crate::secret::Secret;

/// A registration by phone and email (seed 001): name, phone, email, password twice, captcha,
/// consent.
#[derive(Debug, Clone)]
pub struct PhoneRegistration {
    /// Full name.
    pub name: PersonName,
    /// Mobile phone; the SMS code goes here.
    pub phone: Phone,
    /// Email; a confirmation link goes here once the phone is confirmed.
    pub email: Email,
    /// The password.
    pub password: Secret<String>,
    /// The password again.
    pub password_repeat: Secret<String>,
    /// The captcha answer.
    pub captcha: Secret<String>,
    /// The consent text agreed to (152-ФЗ).
    pub consent: ConsentDocument,
    /// Where the request came from.
    pub client: ClientInfo,
}

/// A registration by ЛС (seed 003): ЛС and holder's name, or a meter number on the ЛС when
/// the name does not match; then a phone (SMS code) and optionally an email.
#[derive(Debug, Clone)]
pub struct AccountRegistration {
    /// The ЛС.
    pub account: AccountRef,
    /// The holder's name as typed (full or with initials).
    pub name: PersonName,
    /// The fallback proof: the number of a meter installed on the ЛС.
    pub meter: Option<MeterNumber>,
    /// Mobile phone; the SMS code goes here.
    pub phone: Phone,
    /// Optional email; a confirmation link goes here once the phone is confirmed.
    pub email: Option<Email>,
    /// The captcha answer.
    pub captcha: Secret<String>,
    /// The consent text agreed to (152-ФЗ).
    pub consent: ConsentDocument,
    /// Where the request came from.
    pub client: ClientInfo,
}

/// Errors of [`IdentityService::start_registration_by_phone`].
#[derive(Debug, thiserror::Error)]
pub enum StartRegistrationError {
    /// Wrong captcha.
    #[error("captcha failed")]
    CaptchaFailed,
    /// The password breaks a rule.
    #[error(transparent)]
    Password(#[from] PasswordRejected),
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

impl UserMessage for StartRegistrationError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::CaptchaFailed => "Неверно введён код с картинки.",
            Self::Password(e) => e.user_message(),
            Self::TooManyCodes { .. } => {
                "Слишком много запросов кода на этот номер. Попробуйте позже."
            }
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::start_registration_by_account`].
#[derive(Debug, thiserror::Error)]
pub enum StartAccountRegistrationError {
    /// Wrong captcha.
    #[error("captcha failed")]
    CaptchaFailed,
    /// The ЛС and name (or meter) do not match the supplier's records. Also returned for an
    /// unknown ЛС, so that ЛС numbers cannot be probed.
    #[error("account holder not confirmed")]
    NotConfirmed,
    /// Too many failed proofs for this ЛС; wait `retry_after`.
    #[error("too many attempts, retry after {retry_after}")]
    TooManyAttempts {
        /// How long to wait.
        retry_after: Duration,
    },
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

impl UserMessage for StartAccountRegistrationError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::CaptchaFailed => "Неверно введён код с картинки.",
            Self::NotConfirmed => {
                "Данные не совпадают с данными поставщика. Проверьте номер лицевого счёта и ФИО или укажите номер счётчика."
            }
            Self::TooManyAttempts { .. } => "Слишком много попыток. Попробуйте позже.",
            Self::TooManyCodes { .. } => {
                "Слишком много запросов кода на этот номер. Попробуйте позже."
            }
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::confirm_registration`] and
/// [`IdentityService::complete_registration_by_account`].
#[derive(Debug, thiserror::Error)]
pub enum ConfirmRegistrationError {
    /// The code was not accepted.
    #[error(transparent)]
    Code(#[from] CodeRejected),
    /// The password breaks a rule (registration by ЛС sets it here).
    #[error(transparent)]
    Password(#[from] PasswordRejected),
    /// Between start and confirmation another cabinet took the phone or ЛС.
    #[error("login handle already registered")]
    AlreadyRegistered,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ConfirmRegistrationError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Code(e) => e.user_message(),
            Self::Password(e) => e.user_message(),
            Self::AlreadyRegistered => {
                "Этот номер уже зарегистрирован. Войдите или восстановите пароль."
            }
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::resend_email_confirmation`].
#[derive(Debug, thiserror::Error)]
pub enum ResendEmailError {
    /// The cabinet has no email waiting for confirmation.
    #[error("no email is waiting for confirmation")]
    NothingPending,
    /// Too many messages to this address; wait `retry_after`.
    #[error("too many messages, retry after {retry_after}")]
    TooManyMessages {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ResendEmailError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NothingPending => "Нет адреса почты, ожидающего подтверждения.",
            Self::TooManyMessages { .. } => {
                "Письмо уже отправлено. Новое можно запросить чуть позже."
            }
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::confirm_email`].
#[derive(Debug, thiserror::Error)]
pub enum ConfirmEmailError {
    /// The link was not accepted.
    #[error(transparent)]
    Link(#[from] CodeRejected),
    /// Another cabinet confirmed this address first.
    #[error("email already registered")]
    EmailTaken,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ConfirmEmailError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Link(e) => e.user_message(),
            Self::EmailTaken => "Этот адрес уже используется в другом личном кабинете.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

impl IdentityService {
    /// Starts a registration by phone and email: checks the captcha and password, then sends an
    /// SMS code and returns the challenge to confirm with [`Self::confirm_registration`].
    ///
    /// If the phone already has a cabinet, the phone gets an "already registered" notice
    /// instead of a code and the answer is the same, so the caller learns nothing.
    pub async fn start_registration_by_phone(
        &self,
        request: PhoneRegistration,
    ) -> Result<ChallengeId, StartRegistrationError> {
        let now = self.now();
        if !self.captcha_ok(&request.captcha).await? {
            return Err(StartRegistrationError::CaptchaFailed);
        }
        let logins = vec![
            request.phone.as_str().to_owned(),
            request.phone.digits().to_owned(),
            request.email.as_str().to_owned(),
            request.email.local_part().to_owned(),
        ];
        let personal = vec![request.name.as_str().to_owned()];
        let password = check_new_password(
            &self.policy.password,
            &request.password,
            &request.password_repeat,
            &logins,
            &personal,
        )?;
        // Hash before looking the phone up, so both answers cost the same.
        let hash = self.ports.hasher.hash(&password).await?;
        let taken = self
            .ports
            .subscribers
            .find_by_handle(&LoginHandle::Phone(request.phone.clone()))
            .await?
            .is_some();
        let (purpose, delivery) = if taken {
            (
                ChallengePurpose::Decoy {
                    phone: request.phone.clone(),
                    notify: true,
                },
                Delivery::Notice,
            )
        } else {
            let draft = RegistrationDraft {
                subscriber: SubscriberId::from_bytes(random_bytes(&*self.ports.random)?),
                name: request.name,
                phone: request.phone.clone(),
                email: Some(request.email),
                account: None,
                password_hash: Some(hash),
                consent: request.consent,
                consented_at: now,
                client: request.client,
            };
            (
                ChallengePurpose::Registration(Box::new(draft)),
                Delivery::Code(Purpose::Registration),
            )
        };
        self.issue_code(
            purpose,
            &request.phone,
            self.policy.codes.ttl,
            delivery,
            now,
        )
        .await?
        .map_err(|retry_after| StartRegistrationError::TooManyCodes { retry_after })
    }

    /// Starts a registration by ЛС: proves the holder by name (or by a meter number on the ЛС)
    /// against the supplier's records, then sends an SMS code to the phone. The password is
    /// set with [`Self::complete_registration_by_account`].
    ///
    /// An unknown ЛС and a wrong name give the same error. If the phone already has a cabinet,
    /// it gets an "already registered" notice instead of a code. If the ЛС already has a
    /// cabinet, its owner is notified and the requester sees exactly what a new registration
    /// sees — the same answer and a real code by SMS — but completing it ends in
    /// [`ConfirmRegistrationError::AlreadyRegistered`], as for a new registration whose ЛС is
    /// taken before it completes. The holder proof is throttled per ЛС: an attempt is reserved
    /// atomically before the directory is asked and given back when the proof succeeds.
    pub async fn start_registration_by_account(
        &self,
        request: AccountRegistration,
    ) -> Result<ChallengeId, StartAccountRegistrationError> {
        let now = self.now();
        if !self.captcha_ok(&request.captcha).await? {
            return Err(StartAccountRegistrationError::CaptchaFailed);
        }
        let proof_key = ThrottleKey::registration_proof(&request.account.number);
        if let Err(retry_after) = self
            .reserve(&self.policy.registration_proof, &proof_key, now)
            .await?
        {
            return Err(StartAccountRegistrationError::TooManyAttempts { retry_after });
        }
        let facts = self.ports.directory.find(&request.account).await?;
        let proof = facts.as_ref().and_then(|facts| {
            if request.name.matches_holder(&facts.holder) {
                Some(LinkProof::HolderName)
            } else if request
                .meter
                .as_ref()
                .is_some_and(|m| facts.meters.contains(m))
            {
                Some(LinkProof::MeterNumber)
            } else {
                None
            }
        });
        let Some(proof) = proof else {
            // The reservation stays as this failure's record.
            return Err(StartAccountRegistrationError::NotConfirmed);
        };
        self.release(&proof_key, now).await?;
        let account_owner = self
            .ports
            .subscribers
            .find_by_handle(&LoginHandle::Account(request.account.number.clone()))
            .await?;
        let phone_owner = self
            .ports
            .subscribers
            .find_by_handle(&LoginHandle::Phone(request.phone.clone()))
            .await?;
        let draft = RegistrationDraft {
            subscriber: SubscriberId::from_bytes(random_bytes(&*self.ports.random)?),
            name: request.name,
            phone: request.phone.clone(),
            email: request.email,
            account: Some((request.account, proof)),
            password_hash: None,
            consent: request.consent,
            consented_at: now,
            client: request.client,
        };
        let (purpose, delivery) = if phone_owner.is_some() {
            // The phone's owner gets a notice instead of a code, as in every flow.
            (
                ChallengePurpose::Decoy {
                    phone: request.phone.clone(),
                    notify: true,
                },
                Delivery::Notice,
            )
        } else if account_owner.is_some() {
            // The requester gets what a new registration gets: a real code to the phone they
            // gave. It can never create a cabinet (see `complete_registration_by_account`).
            (
                ChallengePurpose::DecoyRegistration(Box::new(draft)),
                Delivery::Code(Purpose::Registration),
            )
        } else {
            (
                ChallengePurpose::Registration(Box::new(draft)),
                Delivery::Code(Purpose::Registration),
            )
        };
        let challenge = self
            .issue_code(
                purpose,
                &request.phone,
                self.policy.codes.ttl,
                delivery,
                now,
            )
            .await?
            .map_err(|retry_after| StartAccountRegistrationError::TooManyCodes { retry_after })?;
        if let Some(owner) = &account_owner
            && phone_owner.as_ref().is_none_or(|p| p.id != owner.id)
        {
            // Someone who passed the holder proof is registering the ЛС again: tell the owner,
            // at most a few times an hour so that repeated attempts cannot flood their phone.
            let key = ThrottleKey::owner_notice(owner.id);
            if self
                .reserve(&self.policy.owner_notices, &key, now)
                .await?
                .is_ok()
            {
                self.notify(owner, Message::AlreadyRegistered).await;
            }
        }
        Ok(challenge)
    }

    /// Confirms the phone of a registration by phone and email with the SMS code and creates
    /// the cabinet (phone as login, consent recorded), then emails a link to confirm the email.
    pub async fn confirm_registration(
        &self,
        challenge: ChallengeId,
        code: &Secret<String>,
    ) -> Result<SubscriberId, ConfirmRegistrationError> {
        let now = self.now();
        let found = self.check_code(challenge, code, now).await??;
        let ChallengePurpose::Registration(draft) = &found.purpose else {
            return Err(CodeRejected::Invalid.into());
        };
        let Some(hash) = draft.password_hash.clone() else {
            // A registration by ЛС must set its password.
            return Err(CodeRejected::Invalid.into());
        };
        self.consume(&found, now).await??;
        self.finish_registration(draft, hash, now).await
    }

    /// Completes a registration by ЛС: checks the SMS code and the new password (entered
    /// twice), then creates the cabinet with the ЛС and phone as logins and the ЛС linked.
    /// A refused password does not use up the code.
    pub async fn complete_registration_by_account(
        &self,
        challenge: ChallengeId,
        code: &Secret<String>,
        password: &Secret<String>,
        password_repeat: &Secret<String>,
    ) -> Result<SubscriberId, ConfirmRegistrationError> {
        let now = self.now();
        let found = self.check_code(challenge, code, now).await??;
        let (draft, decoy) = match &found.purpose {
            ChallengePurpose::Registration(draft) => (draft, false),
            ChallengePurpose::DecoyRegistration(draft) => (draft, true),
            _ => return Err(CodeRejected::Invalid.into()),
        };
        let Some((account, _)) = &draft.account else {
            return Err(CodeRejected::Invalid.into());
        };
        let mut logins = vec![
            account.number.as_str().to_owned(),
            draft.phone.as_str().to_owned(),
            draft.phone.digits().to_owned(),
        ];
        if let Some(email) = &draft.email {
            logins.extend([email.as_str().to_owned(), email.local_part().to_owned()]);
        }
        let password = check_new_password(
            &self.policy.password,
            password,
            password_repeat,
            &logins,
            &[draft.name.as_str().to_owned()],
        )?;
        let hash = self.ports.hasher.hash(&password).await?;
        self.consume(&found, now).await??;
        if decoy {
            // The ЛС has a cabinet: the same answer as a registration that lost the ЛС to
            // another one at insert, after the same work.
            return Err(ConfirmRegistrationError::AlreadyRegistered);
        }
        self.finish_registration(draft, hash, now).await
    }

    async fn finish_registration(
        &self,
        draft: &RegistrationDraft,
        hash: PasswordHash,
        now: time::OffsetDateTime,
    ) -> Result<SubscriberId, ConfirmRegistrationError> {
        let subscriber = Subscriber {
            id: draft.subscriber,
            name: draft.name.clone(),
            account: draft.account.as_ref().map(|(account, _)| account.clone()),
            phone: Some(draft.phone.clone()),
            email: None,
            pending_email: draft.email.clone(),
            password_hash: Some(hash),
            status: CabinetStatus::Active,
            created_at: now,
            version: 0,
        };
        match self.ports.subscribers.insert(&subscriber).await {
            Ok(()) => {}
            Err(WriteError::Duplicate) => {
                return Err(ConfirmRegistrationError::AlreadyRegistered);
            }
            Err(WriteError::Conflict) => {
                return Err(PortError::new("version conflict on insert").into());
            }
            Err(WriteError::Port(e)) => return Err(e.into()),
        }
        let consent = Consent {
            id: ConsentId::from_bytes(random_bytes(&*self.ports.random)?),
            subscriber: subscriber.id,
            document: draft.consent.clone(),
            given_at: draft.consented_at,
            client: draft.client.clone(),
            withdrawn_at: None,
        };
        self.ports.consents.insert(&consent).await?;
        self.log(
            subscriber.id,
            SecurityEventKind::Registered,
            &draft.client,
            now,
        )
        .await?;
        self.log(
            subscriber.id,
            SecurityEventKind::ConsentGiven {
                consent: consent.id,
            },
            &draft.client,
            now,
        )
        .await?;
        if let Some((account, proof)) = &draft.account {
            let link = LinkedAccount {
                account: account.clone(),
                proof: *proof,
                linked_at: now,
                active: true,
            };
            match self.ports.links.insert(subscriber.id, &link).await {
                Ok(()) | Err(WriteError::Duplicate | WriteError::Conflict) => {}
                Err(WriteError::Port(e)) => return Err(e.into()),
            }
            self.log(
                subscriber.id,
                SecurityEventKind::AccountLinked {
                    account: account.clone(),
                    proof: *proof,
                },
                &draft.client,
                now,
            )
            .await?;
        }
        if let Some(email) = &draft.email {
            // A throttled address simply gets no link now; the address stays pending and the
            // subscriber asks again with `resend_email_confirmation` once the wait is over.
            let _throttled = self
                .send_email_confirmation(subscriber.id, email, now)
                .await?;
        }
        Ok(subscriber.id)
    }

    /// Emails a confirmation link for `email`, or an "already registered" notice if another
    /// cabinet owns it (so the answer never reveals that).
    pub(super) async fn send_email_confirmation(
        &self,
        subscriber: SubscriberId,
        email: &Email,
        now: time::OffsetDateTime,
    ) -> Result<Result<(), Duration>, PortError> {
        let owner = self
            .ports
            .subscribers
            .find_by_handle(&LoginHandle::Email(email.clone()))
            .await?;
        let purpose = match owner {
            Some(owner) if owner.id != subscriber => None,
            _ => Some((
                ChallengePurpose::ConfirmEmail {
                    subscriber,
                    email: email.clone(),
                },
                Purpose::ConfirmEmail,
            )),
        };
        self.issue_link(purpose, email, self.policy.codes.email_link_ttl, now)
            .await
    }

    /// Sends the confirmation link for the cabinet's pending email again ("didn't get the
    /// letter?"): a new link, under the same delivery limit as every code and link (60 s apart,
    /// 5 an hour per address). Earlier links for the address stay valid until they expire.
    pub async fn resend_email_confirmation(
        &self,
        auth: &Authenticated,
    ) -> Result<(), ResendEmailError> {
        let now = self.now();
        let record = self.fetch_subscriber(auth.subscriber()).await?;
        let email = record
            .pending_email
            .as_ref()
            .ok_or(ResendEmailError::NothingPending)?;
        self.send_email_confirmation(record.id, email, now)
            .await?
            .map_err(|retry_after| ResendEmailError::TooManyMessages { retry_after })
    }

    /// Confirms an email address by the token from the emailed link (after registration or a
    /// change of email); the address becomes a login handle. Only a link for the cabinet's
    /// current pending address is accepted.
    pub async fn confirm_email(
        &self,
        token: &Secret<String>,
        client: &ClientInfo,
    ) -> Result<(), ConfirmEmailError> {
        let now = self.now();
        let found = self.check_link(token, now).await??;
        let ChallengePurpose::ConfirmEmail { subscriber, email } = &found.purpose else {
            return Err(CodeRejected::Invalid.into());
        };
        self.consume(&found, now).await??;
        let record = self
            .modify_subscriber(*subscriber, |record| {
                // Only the address asked for last can take effect: a link to an address the
                // subscriber has since replaced is refused.
                if record.pending_email.as_ref() != Some(email) {
                    return Err(ConfirmEmailError::Link(CodeRejected::Invalid));
                }
                record.email = record.pending_email.take();
                Ok(())
            })
            .await
            .map_err(|e| e.into_error(|| ConfirmEmailError::EmailTaken))?;
        self.log(record.id, SecurityEventKind::EmailChanged, client, now)
            .await?;
        Ok(())
    }
}
