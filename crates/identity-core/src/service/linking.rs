//! Linking ЛС to a cabinet three ways (seeds 000, 001, 003): the payment-document code
//! (case-sensitive), house and flat with the ЛС number, or another ЛС's number with that
//! cabinet's password. Several ЛС per cabinet, possibly at different suppliers; one is active.
//! Failed proofs are throttled per subscriber, so ЛС numbers cannot be enumerated.

use time::{Duration, OffsetDateTime};

use super::{Authenticated, IdentityService, port_only_error};
use crate::domain::{AccountNumber, AccountRef, Address, ClientInfo, LoginHandle};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{AccountFacts, LinkProof, LinkedAccount, SecurityEventKind, ThrottleKey};
use crate::ports::{PortError, WriteError};
use crate::secret::Secret;

/// Errors of the `link_by_*` operations.
#[derive(Debug, thiserror::Error)]
pub enum LinkAccountError {
    /// The proof does not match the supplier's records (also for an unknown ЛС).
    #[error("proof rejected")]
    ProofRejected,
    /// Too many failed proofs; wait `retry_after`.
    #[error("too many failed proofs, retry after {retry_after}")]
    TooManyAttempts {
        /// How long to wait.
        retry_after: Duration,
    },
    /// This ЛС is already linked to the cabinet.
    #[error("account already linked")]
    AlreadyLinked,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for LinkAccountError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::ProofRejected => {
                "Данные не совпадают с данными поставщика. Проверьте их и попробуйте ещё раз."
            }
            Self::TooManyAttempts { .. } => {
                "Слишком много неудачных попыток привязки. Попробуйте позже."
            }
            Self::AlreadyLinked => "Этот лицевой счёт уже привязан к вашему кабинету.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::switch_active_account`] and [`IdentityService::unlink_account`].
#[derive(Debug, thiserror::Error)]
pub enum LinkedAccountError {
    /// The ЛС is not linked to this cabinet.
    #[error("account not linked")]
    NotLinked,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for LinkedAccountError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotLinked => "Этот лицевой счёт не привязан к вашему кабинету.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

port_only_error!(
    /// Errors of [`IdentityService::list_linked_accounts`].
    ListLinkedAccountsError
);

impl IdentityService {
    /// Links the ЛС whose payment document carries `code` (seed 000: "с соблюдением регистра").
    /// The code is compared exactly, case included.
    pub async fn link_by_payment_code(
        &self,
        auth: &Authenticated,
        code: &Secret<String>,
        client: &ClientInfo,
    ) -> Result<LinkedAccount, LinkAccountError> {
        let now = self.now();
        self.link_throttle(auth, now).await?;
        let code = code.expose().trim();
        let facts = self.ports.directory.find_by_payment_code(code).await?;
        let account = facts.and_then(|f| {
            let exact = f
                .payment_code
                .as_ref()
                .is_some_and(|c| c.expose().as_bytes() == code.as_bytes());
            exact.then_some(f.account)
        });
        self.finish_link(auth, account, LinkProof::PaymentDocumentCode, client, now)
            .await
    }

    /// Links an ЛС by its number and the house and flat of the premise (seed 001).
    pub async fn link_by_address(
        &self,
        auth: &Authenticated,
        account: &AccountRef,
        address: &Address,
        client: &ClientInfo,
    ) -> Result<LinkedAccount, LinkAccountError> {
        let now = self.now();
        self.link_throttle(auth, now).await?;
        let facts: Option<AccountFacts> = self.ports.directory.find(account).await?;
        let flat_key = |a: &Address| a.flat.as_ref().map(|f| f.as_str().to_lowercase());
        let account = facts.and_then(|f| {
            let same =
                f.address.house == address.house && flat_key(&f.address) == flat_key(address);
            same.then_some(f.account)
        });
        self.finish_link(auth, account, LinkProof::Address, client, now)
            .await
    }

    /// Links the ЛС another cabinet was registered with, proven by that cabinet's password
    /// (seed 003). The other cabinet must be active. Failures count both towards this
    /// subscriber's linking limit and towards the other cabinet's login limit.
    pub async fn link_by_cabinet_password(
        &self,
        auth: &Authenticated,
        number: &AccountNumber,
        password: &Secret<String>,
        client: &ClientInfo,
    ) -> Result<LinkedAccount, LinkAccountError> {
        let now = self.now();
        self.link_throttle(auth, now).await?;
        let handle = LoginHandle::Account(number.clone());
        let other = self.ports.subscribers.find_by_handle(&handle).await?;
        // A wrong password here is a password guess against the other cabinet: it counts
        // towards that cabinet's login limit (keyed exactly as `login` keys it), so linking
        // cannot be used to get around the 100-an-hour limit from many cabinets.
        let login_key = match &other {
            Some(o) => ThrottleKey::login_subscriber(o.id),
            None => ThrottleKey::login_handle(&handle),
        };
        if let Err(retry_after) = self.reserve(&self.policy.login, &login_key, now).await? {
            // Nothing was tried, so the linking attempt does not count either.
            self.release(&ThrottleKey::link_proof(auth.subscriber), now)
                .await?;
            return Err(LinkAccountError::TooManyAttempts { retry_after });
        }
        let hash = other.as_ref().and_then(|o| o.password_hash.as_ref());
        let matches = self.verify_password(password, hash).await?;
        if matches {
            // A right password is no failure of the other cabinet (a wrong one stays counted).
            self.release(&login_key, now).await?;
        }
        let account = other
            .filter(|o| matches && !o.is_blocked())
            .and_then(|o| o.account);
        self.finish_link(auth, account, LinkProof::CabinetPassword, client, now)
            .await
    }

    /// Reserves one linking attempt for the subscriber (atomically, before the proof is
    /// checked); [`Self::finish_link`] keeps it for a rejected proof and gives it back for an
    /// accepted one.
    async fn link_throttle(
        &self,
        auth: &Authenticated,
        now: OffsetDateTime,
    ) -> Result<(), LinkAccountError> {
        let key = ThrottleKey::link_proof(auth.subscriber);
        self.reserve(&self.policy.link_proof, &key, now)
            .await?
            .map_err(|retry_after| LinkAccountError::TooManyAttempts { retry_after })
    }

    async fn finish_link(
        &self,
        auth: &Authenticated,
        account: Option<AccountRef>,
        proof: LinkProof,
        client: &ClientInfo,
        now: OffsetDateTime,
    ) -> Result<LinkedAccount, LinkAccountError> {
        let key = ThrottleKey::link_proof(auth.subscriber);
        let Some(account) = account else {
            // The reservation made by `link_throttle` stays as this failure's record.
            self.log(
                auth.subscriber,
                SecurityEventKind::LinkProofRejected,
                client,
                now,
            )
            .await?;
            return Err(LinkAccountError::ProofRejected);
        };
        self.release(&key, now).await?;
        let first = self.ports.links.list(auth.subscriber).await?.is_empty();
        let link = LinkedAccount {
            account: account.clone(),
            proof,
            linked_at: now,
            active: first,
        };
        match self.ports.links.insert(auth.subscriber, &link).await {
            Ok(()) => {}
            Err(WriteError::Duplicate) => return Err(LinkAccountError::AlreadyLinked),
            Err(WriteError::Conflict) => {
                return Err(PortError::new("version conflict on link insert").into());
            }
            Err(WriteError::Port(e)) => return Err(e.into()),
        }
        self.log(
            auth.subscriber,
            SecurityEventKind::AccountLinked { account, proof },
            client,
            now,
        )
        .await?;
        Ok(link)
    }

    /// The ЛС linked to the cabinet, oldest first.
    pub async fn list_linked_accounts(
        &self,
        auth: &Authenticated,
    ) -> Result<Vec<LinkedAccount>, ListLinkedAccountsError> {
        Ok(self.ports.links.list(auth.subscriber).await?)
    }

    /// Makes another linked ЛС the active one.
    pub async fn switch_active_account(
        &self,
        auth: &Authenticated,
        account: &AccountRef,
        client: &ClientInfo,
    ) -> Result<(), LinkedAccountError> {
        let now = self.now();
        if !self
            .ports
            .links
            .set_active(auth.subscriber, account)
            .await?
        {
            return Err(LinkedAccountError::NotLinked);
        }
        self.log(
            auth.subscriber,
            SecurityEventKind::ActiveAccountSwitched {
                account: account.clone(),
            },
            client,
            now,
        )
        .await?;
        Ok(())
    }

    /// Unlinks an ЛС. If it was the active one, the oldest remaining ЛС becomes active.
    pub async fn unlink_account(
        &self,
        auth: &Authenticated,
        account: &AccountRef,
        client: &ClientInfo,
    ) -> Result<(), LinkedAccountError> {
        let now = self.now();
        let links = self.ports.links.list(auth.subscriber).await?;
        let Some(removed) = links.iter().find(|l| &l.account == account) else {
            return Err(LinkedAccountError::NotLinked);
        };
        if !self.ports.links.remove(auth.subscriber, account).await? {
            return Err(LinkedAccountError::NotLinked);
        }
        if removed.active
            && let Some(next) = links.iter().find(|l| &l.account != account)
        {
            self.ports
                .links
                .set_active(auth.subscriber, &next.account)
                .await?;
        }
        self.log(
            auth.subscriber,
            SecurityEventKind::AccountUnlinked {
                account: account.clone(),
            },
            client,
            now,
        )
        .await?;
        Ok(())
    }
}
