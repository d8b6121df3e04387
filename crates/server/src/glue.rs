//! Adapters between adapters: `storage-seaorm` behind the traits other adapter crates define
//! (adapter crates never depend on each other), and the identity-core ports served by
//! billing data.
//!
//! - [`StoreGlue`] — the sandbox providers' [`SandboxStore`] on the service's database.
//! - [`CaptchaGlue`] — http-api's [`CaptchaIssuer`] over the sandbox captcha.
//! - [`Directory`] — identity-core's [`AccountDirectory`] over the billing records: the ЛС,
//!   its holder, premise and meters, as registration by ЛС and linking check them, and the
//!   payment-document codes (stored as digests, see [`crate::payment_codes`]).
//! - [`HouseGlue`] — http-api's [`HouseSearch`] over the storage's house search.
//! - [`LinkGlue`] — http-api's [`LinkedAccounts`] gate over the storage's one-read join.
//! - [`IdempotencyGlue`] — http-api's [`IdempotencyStore`] over `idempotency_keys`.

use async_trait::async_trait;
use billing_core::model::Account;
use billing_core::ports::{AccountRepository, HouseRepository, MeterRepository};
use fake_providers::SandboxCaptcha;
use fake_providers::store::{
    CaptchaRow, MessageChannel, OutboxMessage, SandboxStore, StoreError, StoredMessage,
};
use http_api::api::public::CaptchaDto;
use http_api::idempotency::{Begin, IdempotencyStore, StoredResponse};
use http_api::{CaptchaIssuer, FoundHouse, HouseSearch, LinkedAccounts, ReadinessError};
use identity_core::domain::{
    AccountNumber, AccountRef, Address, Flat, HouseId, MeterNumber, PersonName, SupplierId,
};
use identity_core::model::AccountFacts;
use identity_core::ports::{AccountDirectory, PortError, WriteError};
use identity_core::secret::Secret;
use storage_seaorm::{
    CaptchaRecord, IdempotencyBegin, NewOutboxMessage, OutboxChannel, OutboxRow, Storage,
};
use time::OffsetDateTime;

/// The sandbox store on the service's database.
#[derive(Clone, Debug)]
pub struct StoreGlue(pub Storage);

fn unavailable(e: PortError) -> StoreError {
    StoreError::Unavailable(e.message().to_owned())
}

fn channel_out(c: MessageChannel) -> OutboxChannel {
    match c {
        MessageChannel::Sms => OutboxChannel::Sms,
        MessageChannel::Email => OutboxChannel::Email,
    }
}

fn channel_in(c: OutboxChannel) -> MessageChannel {
    match c {
        OutboxChannel::Sms => MessageChannel::Sms,
        OutboxChannel::Email => MessageChannel::Email,
    }
}

fn stored(row: OutboxRow) -> StoredMessage {
    StoredMessage {
        id: row.id,
        message: OutboxMessage {
            channel: channel_in(row.channel),
            recipient: row.recipient,
            kind: row.kind,
            subject: row.subject,
            body: row.body,
            correlation: row.correlation,
            created_at: row.created_at,
        },
    }
}

#[async_trait]
impl SandboxStore for StoreGlue {
    async fn push_message(&self, m: &OutboxMessage) -> Result<u64, StoreError> {
        self.0
            .outbox_push(&NewOutboxMessage {
                channel: channel_out(m.channel),
                recipient: m.recipient.clone(),
                kind: m.kind.clone(),
                subject: m.subject.clone(),
                body: m.body.clone(),
                correlation: m.correlation.clone(),
                created_at: m.created_at,
            })
            .await
            .map_err(unavailable)
    }

    async fn messages(
        &self,
        to: Option<&str>,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = self
            .0
            .outbox_messages(to, after, limit)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(stored).collect())
    }

    async fn purge_messages(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.outbox_purge(before).await.map_err(unavailable)
    }

    async fn put_captcha(&self, c: &CaptchaRow) -> Result<(), StoreError> {
        self.0
            .captcha_put(&CaptchaRecord {
                id: c.id.clone(),
                answer_digest: c.answer_digest,
                issued_at: c.issued_at,
                expires_at: c.expires_at,
            })
            .await
            .map_err(|e| match e {
                WriteError::Duplicate | WriteError::Conflict => StoreError::Duplicate,
                WriteError::Port(p) => unavailable(p),
            })
    }

    async fn use_captcha(
        &self,
        id: &str,
        answer_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.0
            .captcha_use(id, answer_digest, now)
            .await
            .map_err(unavailable)
    }

    async fn purge_captchas(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.captcha_purge(before).await.map_err(unavailable)
    }
}

/// The captcha issuer of the API over the sandbox captcha.
pub struct CaptchaGlue {
    /// The sandbox captcha.
    pub captcha: SandboxCaptcha,
    /// Reveal the answer in the response (sandbox mode).
    pub reveal_answer: bool,
}

#[async_trait]
impl CaptchaIssuer for CaptchaGlue {
    async fn issue(&self) -> Result<CaptchaDto, ReadinessError> {
        let c = self
            .captcha
            .issue()
            .await
            .map_err(|e| ReadinessError(e.message().to_owned()))?;
        let ttl = self.captcha.settings().ttl.whole_seconds();
        Ok(CaptchaDto {
            id: c.id,
            question: c.question,
            image_svg: c.image_svg,
            expires_in_seconds: u64::try_from(ttl).unwrap_or(0),
            sandbox_answer: self.reveal_answer.then_some(c.sandbox_answer),
        })
    }
}

/// identity-core's directory of ЛС over the billing records in storage.
#[derive(Clone, Debug)]
pub struct Directory(pub Storage);

fn port(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::new(format!("{what}: {e}"))
}

impl Directory {
    /// The facts identity-core checks about `found`, under the reference `account`.
    async fn facts(&self, account: AccountRef, found: &Account) -> Result<AccountFacts, PortError> {
        let premise = HouseRepository::premise(&self.0, found.premise)
            .await
            .map_err(|e| port("read the premise", e))?
            .ok_or_else(|| PortError::new("the ЛС names a premise that does not exist"))?;
        let meters = self
            .0
            .meters_of_account(found.id)
            .await
            .map_err(|e| port("read the meters", e))?;
        let holder =
            PersonName::parse(&found.holder).map_err(|e| port("the holder's name on file", e))?;
        let house = HouseId::parse(&premise.house.get().to_string())
            .map_err(|e| port("the house id", e))?;
        let flat = if premise.number.trim().is_empty() {
            None
        } else {
            Some(Flat::parse(&premise.number).map_err(|e| port("the flat number", e))?)
        };
        let meters = meters
            .iter()
            .filter_map(|m| MeterNumber::parse(&m.serial).ok())
            .collect();
        Ok(AccountFacts {
            account,
            holder,
            address: Address { house, flat },
            meters,
            payment_code: None,
        })
    }
}

#[async_trait]
impl AccountDirectory for Directory {
    async fn find(&self, account: &AccountRef) -> Result<Option<AccountFacts>, PortError> {
        // Identity's supplier reference is the billing supplier id in decimal; anything else
        // names no supplier of this service.
        let Ok(supplier) = account.supplier.as_str().parse::<u64>() else {
            return Ok(None);
        };
        let Ok(number) = billing_core::model::AccountNumber::parse(account.number.as_str()) else {
            return Ok(None);
        };
        let supplier = billing_core::ids::SupplierId::new(supplier);
        let Some(found) = self
            .0
            .find_by_number(supplier, &number)
            .await
            .map_err(|e| port("find the ЛС", e))?
        else {
            return Ok(None);
        };
        self.facts(account.clone(), &found).await.map(Some)
    }

    async fn find_by_payment_code(&self, code: &str) -> Result<Option<AccountFacts>, PortError> {
        let digest = crate::payment_codes::digest(code);
        let Some(id) = self.0.account_by_payment_code(&digest).await? else {
            return Ok(None);
        };
        let Some(found) = AccountRepository::account(&self.0, id)
            .await
            .map_err(|e| port("read the ЛС of a payment code", e))?
        else {
            return Ok(None);
        };
        let account = AccountRef {
            supplier: SupplierId::parse(&found.supplier.get().to_string())
                .map_err(|e| port("the supplier id", e))?,
            number: AccountNumber::parse(found.number.as_str())
                .map_err(|e| port("the ЛС number on file", e))?,
        };
        let mut facts = self.facts(account, &found).await?;
        // The stored digest matched this exact text, so it is the code on the document; the
        // core compares it again, case included.
        facts.payment_code = Some(Secret::new(code.to_owned()));
        Ok(Some(facts))
    }
}

/// The house search of the address form, over storage.
#[derive(Clone, Debug)]
pub struct HouseGlue(pub Storage);

#[async_trait]
impl HouseSearch for HouseGlue {
    async fn search(
        &self,
        supplier: u64,
        query: &str,
        limit: u32,
    ) -> Result<Vec<FoundHouse>, ReadinessError> {
        let found = self
            .0
            .search_houses(billing_core::ids::SupplierId::new(supplier), query, limit)
            .await
            .map_err(|e| ReadinessError(e.message().to_owned()))?;
        Ok(found
            .into_iter()
            .map(|h| FoundHouse {
                id: h.id.get(),
                address: h.address,
            })
            .collect())
    }
}

/// http-api's gate of account-scoped requests on the service's database.
#[derive(Clone, Debug)]
pub struct LinkGlue(pub Storage);

#[async_trait]
impl LinkedAccounts for LinkGlue {
    async fn linked_account(
        &self,
        subscriber: identity_core::domain::SubscriberId,
        account: billing_core::ids::AccountId,
    ) -> Result<
        Option<(
            identity_core::model::LinkedAccount,
            billing_core::model::Account,
        )>,
        ReadinessError,
    > {
        self.0
            .linked_account(subscriber, account)
            .await
            .map_err(dependency)
    }

    async fn session_with_link(
        &self,
        digest: &identity_core::crypto::SecretDigest,
        account: billing_core::ids::AccountId,
    ) -> Result<http_api::SessionAndLink, ReadinessError> {
        let (found, link) = self
            .0
            .session_with_link(digest, account)
            .await
            .map_err(dependency)?;
        Ok((found, link.map_err(dependency)))
    }
}

/// http-api's idempotency-key store on the service's database.
#[derive(Clone, Debug)]
pub struct IdempotencyGlue(pub Storage);

fn dependency(e: PortError) -> ReadinessError {
    ReadinessError(e.message().to_owned())
}

#[async_trait]
impl IdempotencyStore for IdempotencyGlue {
    async fn begin(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Begin, ReadinessError> {
        let found = self
            .0
            .idempotency_begin(
                principal,
                key,
                fingerprint,
                now,
                http_api::idempotency::KEY_TTL,
                http_api::idempotency::CLAIM_LEASE,
            )
            .await
            .map_err(dependency)?;
        Ok(match found {
            IdempotencyBegin::Fresh => Begin::Fresh,
            IdempotencyBegin::Replay { status, body } => {
                Begin::Replay(StoredResponse { status, body })
            }
            IdempotencyBegin::InProgress => Begin::InProgress,
            IdempotencyBegin::Mismatch => Begin::Mismatch,
        })
    }

    async fn complete(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
        response: &StoredResponse,
        now: OffsetDateTime,
    ) -> Result<(), ReadinessError> {
        let kept = self
            .0
            .idempotency_complete(
                principal,
                key,
                fingerprint,
                claimed_at,
                response.status,
                &response.body,
                now,
            )
            .await
            .map_err(dependency)?;
        if kept {
            Ok(())
        } else {
            Err(ReadinessError(
                "the idempotency key was released or taken over before its response was kept"
                    .to_owned(),
            ))
        }
    }

    async fn renew(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReadinessError> {
        self.0
            .idempotency_renew(principal, key, fingerprint, claimed_at, now)
            .await
            .map_err(dependency)
    }

    async fn abandon(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
    ) -> Result<(), ReadinessError> {
        self.0
            .idempotency_abandon(principal, key, fingerprint, claimed_at)
            .await
            .map(|_| ())
            .map_err(dependency)
    }
}
