//! The cabinet as a whole: the subscriber's profile, blocking it ("my cabinet was hacked",
//! seed 004) and an operator unblocking it, an operator's lookup of a cabinet by login handle,
//! consents to personal-data processing (152-ФЗ) and the subscriber-readable security log.

use time::OffsetDateTime;

use super::{Authenticated, IdentityService, ModifyError, port_only_error, unexpected_duplicate};
use crate::crypto::random_bytes;
use crate::domain::{
    AccountRef, ClientInfo, ConsentId, Email, LoginHandle, PersonName, Phone, SubscriberId,
    SupplierId,
};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{
    BlockedBy, CabinetStatus, Consent, ConsentDocument, Message, SecurityEvent, SecurityEventKind,
    Subscriber,
};
use crate::ports::PortError;

/// What the subscriber sees of their own cabinet ([`IdentityService::profile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The cabinet.
    pub id: SubscriberId,
    /// The name the subscriber gave.
    pub name: PersonName,
    /// The ЛС the cabinet was registered with, if it was registered by ЛС (a login handle).
    /// The ЛС linked later, and which one is active, come from
    /// [`IdentityService::list_linked_accounts`].
    pub account: Option<AccountRef>,
    /// The verified phone.
    pub phone: Option<Phone>,
    /// The verified email.
    pub email: Option<Email>,
    /// An email waiting for its confirmation link, if any.
    pub pending_email: Option<Email>,
    /// When the cabinet was created.
    pub created_at: OffsetDateTime,
}

impl From<Subscriber> for Profile {
    fn from(s: Subscriber) -> Self {
        Self {
            id: s.id,
            name: s.name,
            account: s.account,
            phone: s.phone,
            email: s.email,
            pending_email: s.pending_email,
            created_at: s.created_at,
        }
    }
}

/// What an operator sees of a cabinet found by a login handle
/// ([`IdentityService::find_cabinet`]): enough to recognise the caller's cabinet, with the
/// login handles partly hidden ([`LoginHandle::masked`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabinetSummary {
    /// The cabinet, for blocking or unblocking it.
    pub id: SubscriberId,
    /// The name the subscriber gave.
    pub name: PersonName,
    /// The registration ЛС, its number masked, if the cabinet was registered by ЛС.
    pub account: Option<MaskedAccount>,
    /// The masked phone (`+7 916 ***-**-67`).
    pub phone: Option<String>,
    /// The masked email (`i***@mail.ru`).
    pub email: Option<String>,
    /// Active, or blocked (when and by whom).
    pub status: CabinetStatus,
    /// When the cabinet was created.
    pub created_at: OffsetDateTime,
}

/// An ЛС with its number partly hidden ([`crate::domain::AccountNumber::masked`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedAccount {
    /// The supplier that keeps the account.
    pub supplier: SupplierId,
    /// The masked number (`***4567`).
    pub number: String,
}

impl CabinetSummary {
    /// Whether the cabinet is blocked.
    pub fn is_blocked(&self) -> bool {
        matches!(self.status, CabinetStatus::Blocked { .. })
    }
}

impl From<Subscriber> for CabinetSummary {
    fn from(s: Subscriber) -> Self {
        Self {
            id: s.id,
            name: s.name,
            account: s.account.map(|a| MaskedAccount {
                number: a.number.masked(),
                supplier: a.supplier,
            }),
            phone: s.phone.as_ref().map(Phone::masked),
            email: s.email.as_ref().map(Email::masked),
            status: s.status,
            created_at: s.created_at,
        }
    }
}

/// Errors of [`IdentityService::block_cabinet`] and [`IdentityService::block_cabinet_by_operator`].
#[derive(Debug, thiserror::Error)]
pub enum BlockCabinetError {
    /// No such cabinet.
    #[error("subscriber not found")]
    NotFound,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for BlockCabinetError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotFound => "Личный кабинет не найден.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::unblock_cabinet_by_operator`].
#[derive(Debug, thiserror::Error)]
pub enum UnblockCabinetError {
    /// No such cabinet.
    #[error("subscriber not found")]
    NotFound,
    /// The cabinet is not blocked (never was, or someone unblocked it meanwhile); nothing
    /// changed.
    #[error("cabinet not blocked")]
    NotBlocked,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for UnblockCabinetError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotFound => "Личный кабинет не найден.",
            Self::NotBlocked => "Личный кабинет не заблокирован.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::withdraw_consent`].
#[derive(Debug, thiserror::Error)]
pub enum WithdrawConsentError {
    /// The subscriber has no such unwithdrawn consent.
    #[error("consent not found")]
    NotFound,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for WithdrawConsentError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotFound => "Согласие не найдено или уже отозвано.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

port_only_error!(
    /// Errors of [`IdentityService::profile`].
    ProfileError
);
port_only_error!(
    /// Errors of [`IdentityService::find_cabinet`] (no cabinet is not an error: `Ok(None)`).
    LookupError
);
port_only_error!(
    /// Errors of [`IdentityService::give_consent`].
    GiveConsentError
);
port_only_error!(
    /// Errors of [`IdentityService::list_consents`].
    ListConsentsError
);
port_only_error!(
    /// Errors of [`IdentityService::security_log`].
    SecurityLogError
);

impl IdentityService {
    /// The signed-in subscriber's own profile: name, registration ЛС, verified contacts, a
    /// pending email change and when the cabinet was created.
    pub async fn profile(&self, auth: &Authenticated) -> Result<Profile, ProfileError> {
        Ok(self.fetch_subscriber(auth.subscriber).await?.into())
    }

    /// An operator looks up the cabinet that owns a login handle (ЛС number, phone or email),
    /// to block or unblock it on the subscriber's request. Operator authentication and any
    /// audit of operator lookups are the caller's concern; the summary shows the handles only
    /// partly ([`CabinetSummary`]).
    pub async fn find_cabinet(
        &self,
        handle: &LoginHandle,
    ) -> Result<Option<CabinetSummary>, LookupError> {
        Ok(self
            .ports
            .subscribers
            .find_by_handle(handle)
            .await?
            .map(CabinetSummary::from))
    }

    /// The subscriber blocks their own cabinet: every session ends (this one too); password
    /// recovery or an operator ([`IdentityService::unblock_cabinet_by_operator`]) unblocks it.
    pub async fn block_cabinet(
        &self,
        auth: &Authenticated,
        client: &ClientInfo,
    ) -> Result<(), BlockCabinetError> {
        self.block(auth.subscriber, BlockedBy::Subscriber, client)
            .await
    }

    /// An operator blocks a cabinet on the subscriber's request (a call: "my cabinet was
    /// hacked"). Operator authentication is the caller's concern; `operator` is recorded.
    pub async fn block_cabinet_by_operator(
        &self,
        subscriber: SubscriberId,
        operator: &str,
        client: &ClientInfo,
    ) -> Result<(), BlockCabinetError> {
        self.block(
            subscriber,
            BlockedBy::Operator {
                operator: operator.to_owned(),
            },
            client,
        )
        .await
    }

    /// An operator unblocks a cabinet on the subscriber's request, after checking who is
    /// calling by the supplier's procedure. Operator authentication is the caller's concern;
    /// `operator` is recorded in the security log ([`SecurityEventKind::CabinetUnblocked`]).
    ///
    /// The password is left as it was: when the cabinet was blocked because it was hacked, the
    /// subscriber should rather recover the password, which sets a new one and also unblocks.
    /// The check "blocked" and the write are one compare-and-swap, so of two operators
    /// unblocking at once one succeeds and the other gets
    /// [`UnblockCabinetError::NotBlocked`]; each unblock is logged once.
    pub async fn unblock_cabinet_by_operator(
        &self,
        subscriber: SubscriberId,
        operator: &str,
        client: &ClientInfo,
    ) -> Result<(), UnblockCabinetError> {
        let now = self.now();
        self.modify_subscriber(subscriber, |record| {
            if !record.is_blocked() {
                return Err(UnblockCabinetError::NotBlocked);
            }
            record.status = CabinetStatus::Active;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            ModifyError::Missing => UnblockCabinetError::NotFound,
            other => other.into_error(unexpected_duplicate),
        })?;
        self.log(
            subscriber,
            SecurityEventKind::CabinetUnblocked {
                operator: operator.to_owned(),
            },
            client,
            now,
        )
        .await?;
        Ok(())
    }

    async fn block(
        &self,
        subscriber: SubscriberId,
        by: BlockedBy,
        client: &ClientInfo,
    ) -> Result<(), BlockCabinetError> {
        let now = self.now();
        let record = self
            .modify_subscriber(subscriber, |record| {
                if !record.is_blocked() {
                    record.status = CabinetStatus::Blocked {
                        at: now,
                        by: by.clone(),
                    };
                }
                Ok(())
            })
            .await
            .map_err(|e| match e {
                ModifyError::Missing => BlockCabinetError::NotFound,
                other => other.into_error(unexpected_duplicate),
            })?;
        // Revoke even when already blocked: a retry after a failed revocation must finish it.
        let sessions = self
            .ports
            .sessions
            .revoke_all(subscriber, None, now)
            .await?;
        self.log(
            subscriber,
            SecurityEventKind::CabinetBlocked { by },
            client,
            now,
        )
        .await?;
        self.log(
            subscriber,
            SecurityEventKind::SignedOutEverywhere { sessions },
            client,
            now,
        )
        .await?;
        self.notify(&record, Message::CabinetBlocked).await;
        Ok(())
    }

    /// Records a consent (for example to a new version of the consent text).
    pub async fn give_consent(
        &self,
        auth: &Authenticated,
        document: ConsentDocument,
        client: &ClientInfo,
    ) -> Result<ConsentId, GiveConsentError> {
        let now = self.now();
        let consent = Consent {
            id: ConsentId::from_bytes(random_bytes(&*self.ports.random)?),
            subscriber: auth.subscriber,
            document,
            given_at: now,
            client: client.clone(),
            withdrawn_at: None,
        };
        self.ports.consents.insert(&consent).await?;
        self.log(
            auth.subscriber,
            SecurityEventKind::ConsentGiven {
                consent: consent.id,
            },
            client,
            now,
        )
        .await?;
        Ok(consent.id)
    }

    /// Every consent of the subscriber, withdrawn ones included.
    pub async fn list_consents(
        &self,
        auth: &Authenticated,
    ) -> Result<Vec<Consent>, ListConsentsError> {
        Ok(self.ports.consents.list(auth.subscriber).await?)
    }

    /// Withdraws a consent (152-ФЗ ст. 9 ч. 2). What follows for the processing of the data is
    /// the operator's procedure, outside this crate.
    pub async fn withdraw_consent(
        &self,
        auth: &Authenticated,
        consent: ConsentId,
        client: &ClientInfo,
    ) -> Result<(), WithdrawConsentError> {
        let now = self.now();
        if !self
            .ports
            .consents
            .withdraw(auth.subscriber, consent, now)
            .await?
        {
            return Err(WithdrawConsentError::NotFound);
        }
        self.log(
            auth.subscriber,
            SecurityEventKind::ConsentWithdrawn { consent },
            client,
            now,
        )
        .await?;
        Ok(())
    }

    /// The latest `limit` (at most 500) entries of the subscriber's security log, newest first.
    pub async fn security_log(
        &self,
        auth: &Authenticated,
        limit: u32,
    ) -> Result<Vec<SecurityEvent>, SecurityLogError> {
        Ok(self
            .ports
            .security_log
            .list(auth.subscriber, limit.min(500))
            .await?)
    }
}
