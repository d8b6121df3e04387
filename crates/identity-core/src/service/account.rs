//! The cabinet as a whole: blocking it ("my cabinet was hacked", seed 004), consents to
//! personal-data processing (152-ФЗ) and the subscriber-readable security log.

use super::{Authenticated, IdentityService, ModifyError, port_only_error, unexpected_duplicate};
use crate::crypto::random_bytes;
use crate::domain::{ClientInfo, ConsentId, SubscriberId};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{
    BlockedBy, CabinetStatus, Consent, ConsentDocument, Message, SecurityEvent, SecurityEventKind,
};
use crate::ports::PortError;

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
    /// The subscriber blocks their own cabinet: every session ends (this one too) and only
    /// password recovery unblocks it.
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
