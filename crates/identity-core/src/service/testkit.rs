//! Test support: an in-memory world implementing every port (fakes that honour the port
//! contracts), plus a fixed start time. Test code only.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use time::macros::datetime;

use super::{
    IdentityService, OperatorPorts, OperatorService, Ports, QuestionPorts, QuestionService,
};
use crate::crypto::SecretDigest;
use crate::domain::{
    AccountRef, ApiKeyId, ChallengeId, ConsentId, Email, LoginHandle, OperatorId, OperatorLogin,
    OperatorSessionId, Phone, QuestionId, SessionId, SubscriberId, SupplierId,
};
use crate::model::{
    AccountFacts, Answer, ApiKeyRecord, AttemptOutcome, Challenge, Consent, LinkedAccount, Message,
    Operator, OperatorSessionRecord, Question, QuestionCursor, Reservation, SecurityEvent,
    SessionRecord, Subscriber, ThrottleKey,
};
use crate::password::PasswordHash;
use crate::policy::{RateLimit, SecurityPolicy};
use crate::ports::*;
use crate::secret::Secret;

pub(crate) const T0: OffsetDateTime = datetime!(2025-03-01 10:00 UTC);

/// One answer of the in-memory challenge store.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ChallengeOp {
    Attempt(AttemptOutcome),
    Consume(bool),
}

/// Shared state of the in-memory world.
#[derive(Default)]
pub(crate) struct State {
    pub now: Option<OffsetDateTime>,
    pub seed: u64,
    pub subscribers: BTreeMap<SubscriberId, Subscriber>,
    pub links: BTreeMap<SubscriberId, Vec<LinkedAccount>>,
    pub sessions: Vec<SessionRecord>,
    pub challenges: Vec<Challenge>,
    /// Every attempt and consume the challenge store answered, in order (its linearisation).
    pub challenge_ops: Vec<ChallengeOp>,
    pub throttle: BTreeMap<ThrottleKey, Vec<OffsetDateTime>>,
    pub consents: Vec<Consent>,
    pub log: Vec<SecurityEvent>,
    pub sms: Vec<(Phone, Message)>,
    pub emails: Vec<(Email, Message)>,
    pub directory: Vec<AccountFacts>,
    pub captcha_ok: bool,
    /// Questions, in the order asked.
    pub questions: Vec<Question>,
    /// Every conditional answer the question store took, in order: (question, stored?).
    pub answer_ops: Vec<(QuestionId, bool)>,
    pub operators: BTreeMap<OperatorId, Operator>,
    pub api_keys: Vec<ApiKeyRecord>,
    pub operator_sessions: Vec<OperatorSessionRecord>,
}

/// The in-memory world; clone it to share.
#[derive(Clone, Default)]
pub(crate) struct World(pub Arc<Mutex<State>>);

impl World {
    pub fn new() -> Self {
        let world = Self::default();
        world.with(|s| {
            s.now = Some(T0);
            s.captcha_ok = true;
        });
        world
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }

    pub fn advance(&self, by: time::Duration) {
        self.with(|s| s.now = s.now.map(|t| t + by));
    }

    pub fn ports(&self) -> Ports {
        let me = Arc::new(self.clone());
        Ports {
            clock: me.clone(),
            random: me.clone(),
            hasher: me.clone(),
            subscribers: me.clone(),
            links: me.clone(),
            sessions: me.clone(),
            challenges: me.clone(),
            throttle: me.clone(),
            consents: me.clone(),
            security_log: me.clone(),
            sms: me.clone(),
            email: me.clone(),
            captcha: me.clone(),
            directory: me,
        }
    }

    pub fn service(&self) -> IdentityService {
        IdentityService::new(self.ports(), SecurityPolicy::default())
    }

    pub fn question_ports(&self) -> QuestionPorts {
        QuestionPorts::new(&self.ports(), Arc::new(self.clone()))
    }

    pub fn question_service(&self) -> QuestionService {
        QuestionService::new(self.question_ports(), SecurityPolicy::default())
    }

    pub fn operator_ports(&self) -> OperatorPorts {
        let me = Arc::new(self.clone());
        OperatorPorts::new(&self.ports(), me.clone(), me.clone(), me)
    }

    pub fn operator_service(&self) -> OperatorService {
        OperatorService::new(self.operator_ports(), SecurityPolicy::default())
    }

    /// The last code texted to `phone`.
    pub fn last_code(&self, phone: &Phone) -> Option<Secret<String>> {
        self.with(|s| {
            s.sms.iter().rev().find_map(|(to, m)| match m {
                Message::Code { code, .. } if to == phone => Some(code.clone()),
                _ => None,
            })
        })
    }

    /// The last link token emailed to `email`.
    pub fn last_link(&self, email: &Email) -> Option<Secret<String>> {
        self.with(|s| {
            s.emails.iter().rev().find_map(|(to, m)| match m {
                Message::Link { token, .. } if to == email => Some(token.clone()),
                _ => None,
            })
        })
    }
}

impl Clock for World {
    fn now(&self) -> OffsetDateTime {
        self.with(|s| s.now.unwrap_or(T0))
    }
}

impl Random for World {
    fn fill(&self, buf: &mut [u8]) -> Result<(), PortError> {
        self.with(|s| {
            for b in buf.iter_mut() {
                // SplitMix64: distinct, well-spread bytes, reproducible.
                s.seed = s.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = s.seed;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                *b = (z ^ (z >> 31)).to_be_bytes()[0];
            }
        });
        Ok(())
    }
}

#[async_trait::async_trait]
impl PasswordHasher for World {
    async fn hash(&self, password: &Secret<String>) -> Result<PasswordHash, PortError> {
        Ok(PasswordHash::from_phc(format!(
            "$fake${}",
            password.expose()
        )))
    }
    async fn verify(
        &self,
        password: &Secret<String>,
        hash: &PasswordHash,
    ) -> Result<bool, PortError> {
        Ok(hash.as_phc() == format!("$fake${}", password.expose()))
    }
}

#[async_trait::async_trait]
impl SubscriberRepository for World {
    async fn insert(&self, subscriber: &Subscriber) -> Result<(), WriteError> {
        self.with(|s| {
            let taken = s.subscribers.values().any(|other| {
                other
                    .handles()
                    .iter()
                    .any(|h| subscriber.handles().contains(h))
            });
            if taken || s.subscribers.contains_key(&subscriber.id) {
                return Err(WriteError::Duplicate);
            }
            s.subscribers.insert(subscriber.id, subscriber.clone());
            Ok(())
        })
    }
    async fn update(&self, subscriber: &Subscriber) -> Result<(), WriteError> {
        self.with(|s| {
            let stored = s.subscribers.get(&subscriber.id).map(|x| x.version);
            if stored != Some(subscriber.version) {
                return Err(WriteError::Conflict);
            }
            let taken = s
                .subscribers
                .values()
                .filter(|o| o.id != subscriber.id)
                .any(|other| {
                    other
                        .handles()
                        .iter()
                        .any(|h| subscriber.handles().contains(h))
                });
            if taken {
                return Err(WriteError::Duplicate);
            }
            let mut stored = subscriber.clone();
            stored.version += 1;
            s.subscribers.insert(subscriber.id, stored);
            Ok(())
        })
    }
    async fn get(&self, id: SubscriberId) -> Result<Option<Subscriber>, PortError> {
        Ok(self.with(|s| s.subscribers.get(&id).cloned()))
    }
    async fn find_by_handle(&self, handle: &LoginHandle) -> Result<Option<Subscriber>, PortError> {
        Ok(self.with(|s| {
            s.subscribers
                .values()
                .find(|x| x.handles().contains(handle))
                .cloned()
        }))
    }
}

#[async_trait::async_trait]
impl LinkRepository for World {
    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<LinkedAccount>, PortError> {
        Ok(self.with(|s| s.links.get(&subscriber).cloned().unwrap_or_default()))
    }
    async fn insert(
        &self,
        subscriber: SubscriberId,
        link: &LinkedAccount,
    ) -> Result<(), WriteError> {
        self.with(|s| {
            let links = s.links.entry(subscriber).or_default();
            if links.iter().any(|l| l.account == link.account) {
                return Err(WriteError::Duplicate);
            }
            if link.active {
                links.iter_mut().for_each(|l| l.active = false);
            }
            links.push(link.clone());
            Ok(())
        })
    }
    async fn remove(
        &self,
        subscriber: SubscriberId,
        account: &AccountRef,
    ) -> Result<bool, PortError> {
        Ok(self.with(|s| {
            let links = s.links.entry(subscriber).or_default();
            let before = links.len();
            links.retain(|l| &l.account != account);
            links.len() != before
        }))
    }
    async fn set_active(
        &self,
        subscriber: SubscriberId,
        account: &AccountRef,
    ) -> Result<bool, PortError> {
        Ok(self.with(|s| {
            let links = s.links.entry(subscriber).or_default();
            if !links.iter().any(|l| &l.account == account) {
                return false;
            }
            links
                .iter_mut()
                .for_each(|l| l.active = &l.account == account);
            true
        }))
    }
}

#[async_trait::async_trait]
impl SessionRepository for World {
    async fn insert(&self, session: &SessionRecord) -> Result<(), PortError> {
        self.with(|s| s.sessions.push(session.clone()));
        Ok(())
    }
    async fn find_with_subscriber(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<(SessionRecord, Option<Subscriber>)>, PortError> {
        Ok(self.with(|s| {
            let session = s.sessions.iter().find(|x| x.token_digest == *digest)?;
            let subscriber = s.subscribers.get(&session.subscriber).cloned();
            Some((session.clone(), subscriber))
        }))
    }
    async fn touch(&self, id: SessionId, at: OffsetDateTime) -> Result<(), PortError> {
        self.with(|s| {
            s.sessions
                .iter_mut()
                .filter(|x| x.id == id)
                .for_each(|x| x.last_seen_at = at)
        });
        Ok(())
    }
    async fn revoke(
        &self,
        subscriber: SubscriberId,
        id: SessionId,
        at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        Ok(self.with(|s| {
            let mut found = false;
            for x in s
                .sessions
                .iter_mut()
                .filter(|x| x.id == id && x.subscriber == subscriber && x.revoked_at.is_none())
            {
                x.revoked_at = Some(at);
                found = true;
            }
            found
        }))
    }
    async fn revoke_all(
        &self,
        subscriber: SubscriberId,
        keep: Option<SessionId>,
        at: OffsetDateTime,
    ) -> Result<u32, PortError> {
        Ok(self.with(|s| {
            let mut n = 0;
            for x in s.sessions.iter_mut().filter(|x| {
                x.subscriber == subscriber && x.revoked_at.is_none() && Some(x.id) != keep
            }) {
                x.revoked_at = Some(at);
                n += 1;
            }
            n
        }))
    }
    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<SessionRecord>, PortError> {
        Ok(self.with(|s| {
            s.sessions
                .iter()
                .filter(|x| x.subscriber == subscriber && x.revoked_at.is_none())
                .cloned()
                .collect()
        }))
    }
}

#[async_trait::async_trait]
impl ChallengeRepository for World {
    async fn insert(&self, challenge: &Challenge) -> Result<(), PortError> {
        self.with(|s| s.challenges.push(challenge.clone()));
        Ok(())
    }
    async fn get(&self, id: ChallengeId) -> Result<Option<Challenge>, PortError> {
        Ok(self.with(|s| s.challenges.iter().find(|c| c.id == id).cloned()))
    }
    async fn find_by_digest(&self, digest: &SecretDigest) -> Result<Option<Challenge>, PortError> {
        Ok(self.with(|s| s.challenges.iter().find(|c| c.digest == *digest).cloned()))
    }
    async fn attempt(
        &self,
        id: ChallengeId,
        presented: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<AttemptOutcome, PortError> {
        Ok(self.with(|s| {
            let outcome = match s.challenges.iter_mut().find(|c| c.id == id) {
                None => AttemptOutcome::Missing,
                Some(c) if c.consumed_at.is_some() => AttemptOutcome::Used,
                Some(c) if at >= c.expires_at => AttemptOutcome::Expired,
                Some(c) if c.failed_attempts >= max_attempts => AttemptOutcome::Exhausted,
                Some(c) if c.digest != *presented => {
                    c.failed_attempts += 1;
                    AttemptOutcome::Wrong {
                        failed_attempts: c.failed_attempts,
                    }
                }
                Some(c) => AttemptOutcome::Matched(Box::new(c.clone())),
            };
            s.challenge_ops.push(ChallengeOp::Attempt(outcome.clone()));
            outcome
        }))
    }
    async fn consume(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<bool, PortError> {
        Ok(self.with(|s| {
            let done = match s.challenges.iter_mut().find(|c| c.id == id) {
                Some(c)
                    if c.consumed_at.is_none()
                        && c.digest == *digest
                        && at < c.expires_at
                        && c.failed_attempts < max_attempts =>
                {
                    c.consumed_at = Some(at);
                    true
                }
                _ => false,
            };
            s.challenge_ops.push(ChallengeOp::Consume(done));
            done
        }))
    }
    async fn consume_recovery(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<bool, PortError> {
        // One lock for the compare-and-set and the sweep: as atomic as the adapter's
        // transaction holding the cabinet's recovery challenges.
        Ok(self.with(|s| {
            let target = s.challenges.iter_mut().find(|c| c.id == id);
            let consumed = match target {
                Some(c)
                    if c.consumed_at.is_none()
                        && c.digest == *digest
                        && at < c.expires_at
                        && c.failed_attempts < max_attempts =>
                {
                    c.consumed_at = Some(at);
                    Some(c.purpose.recovers())
                }
                _ => None,
            };
            let done = consumed.is_some();
            if let Some(Some(cabinet)) = consumed {
                s.challenges
                    .iter_mut()
                    .filter(|c| c.purpose.recovers() == Some(cabinet) && c.consumed_at.is_none())
                    .for_each(|c| c.consumed_at = Some(at));
            }
            s.challenge_ops.push(ChallengeOp::Consume(done));
            done
        }))
    }
    async fn reissue(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        Ok(
            self.with(|s| match s.challenges.iter_mut().find(|c| c.id == id) {
                Some(c) if c.consumed_at.is_none() => {
                    c.digest = *digest;
                    c.issued_at = issued_at;
                    c.expires_at = expires_at;
                    c.failed_attempts = 0;
                    true
                }
                _ => false,
            }),
        )
    }
}

/// Faithfully atomic, like the adapter's transaction: the whole read-decide-record step runs
/// under the world's one lock, so no other reservation can slip in between.
#[async_trait::async_trait]
impl ThrottleRepository for World {
    async fn reserve(
        &self,
        key: &ThrottleKey,
        limit: &RateLimit,
        at: OffsetDateTime,
    ) -> Result<Reservation, PortError> {
        Ok(self.with(|s| {
            let events = s.throttle.entry(key.clone()).or_default();
            let since = at - limit.lookback();
            let recent: Vec<OffsetDateTime> =
                events.iter().copied().filter(|t| *t > since).collect();
            match limit.check(&recent, at) {
                Ok(()) => {
                    events.push(at);
                    Reservation::Granted
                }
                Err(retry_after) => Reservation::Refused { retry_after },
            }
        }))
    }
    async fn release(&self, key: &ThrottleKey, at: OffsetDateTime) -> Result<(), PortError> {
        self.with(|s| {
            if let Some(events) = s.throttle.get_mut(key)
                && let Some(i) = events.iter().position(|t| *t == at)
            {
                events.remove(i);
            }
        });
        Ok(())
    }
    async fn clear(&self, key: &ThrottleKey) -> Result<(), PortError> {
        self.with(|s| s.throttle.remove(key));
        Ok(())
    }
}

#[async_trait::async_trait]
impl ConsentRepository for World {
    async fn insert(&self, consent: &Consent) -> Result<(), PortError> {
        self.with(|s| s.consents.push(consent.clone()));
        Ok(())
    }
    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<Consent>, PortError> {
        Ok(self.with(|s| {
            s.consents
                .iter()
                .filter(|c| c.subscriber == subscriber)
                .cloned()
                .collect()
        }))
    }
    async fn withdraw(
        &self,
        subscriber: SubscriberId,
        id: ConsentId,
        at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        Ok(self.with(|s| {
            match s
                .consents
                .iter_mut()
                .find(|c| c.id == id && c.subscriber == subscriber && c.withdrawn_at.is_none())
            {
                Some(c) => {
                    c.withdrawn_at = Some(at);
                    true
                }
                None => false,
            }
        }))
    }
}

#[async_trait::async_trait]
impl SecurityLog for World {
    async fn append(&self, event: &SecurityEvent) -> Result<(), PortError> {
        self.with(|s| s.log.push(event.clone()));
        Ok(())
    }
    async fn list(
        &self,
        subscriber: SubscriberId,
        limit: u32,
    ) -> Result<Vec<SecurityEvent>, PortError> {
        Ok(self.with(|s| {
            s.log
                .iter()
                .rev()
                .filter(|e| e.subscriber == subscriber)
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .cloned()
                .collect()
        }))
    }
}

#[async_trait::async_trait]
impl SmsSender for World {
    async fn send(&self, to: &Phone, message: &Message) -> Result<(), PortError> {
        self.with(|s| s.sms.push((to.clone(), message.clone())));
        Ok(())
    }
}

#[async_trait::async_trait]
impl EmailSender for World {
    async fn send(&self, to: &Email, message: &Message) -> Result<(), PortError> {
        self.with(|s| s.emails.push((to.clone(), message.clone())));
        Ok(())
    }
}

#[async_trait::async_trait]
impl CaptchaVerifier for World {
    async fn verify(&self, _answer: &Secret<String>) -> Result<bool, PortError> {
        Ok(self.with(|s| s.captcha_ok))
    }
}

#[async_trait::async_trait]
impl AccountDirectory for World {
    async fn find(&self, account: &AccountRef) -> Result<Option<AccountFacts>, PortError> {
        Ok(self.with(|s| s.directory.iter().find(|f| &f.account == account).cloned()))
    }
    async fn find_by_payment_code(&self, code: &str) -> Result<Option<AccountFacts>, PortError> {
        // Deliberately case-insensitive, like a careless SQL collation: the core must re-check.
        Ok(self.with(|s| {
            s.directory
                .iter()
                .find(|f| {
                    f.payment_code
                        .as_ref()
                        .is_some_and(|c| c.expose().eq_ignore_ascii_case(code))
                })
                .cloned()
        }))
    }
}

/// The conditional answer runs under the world's one lock, as atomic as the adapter's
/// `UPDATE … WHERE answered_at IS NULL`.
#[async_trait::async_trait]
impl QuestionRepository for World {
    async fn insert(&self, question: &Question) -> Result<(), WriteError> {
        self.with(|s| {
            if s.questions.iter().any(|q| q.id == question.id) {
                return Err(WriteError::Duplicate);
            }
            s.questions.push(question.clone());
            Ok(())
        })
    }
    async fn get(&self, id: QuestionId) -> Result<Option<Question>, PortError> {
        Ok(self.with(|s| s.questions.iter().find(|q| q.id == id).cloned()))
    }
    async fn list_by_subscriber(
        &self,
        subscriber: SubscriberId,
        limit: u32,
    ) -> Result<Vec<Question>, PortError> {
        Ok(self.with(|s| {
            let mut mine: Vec<Question> = s
                .questions
                .iter()
                .filter(|q| q.subscriber == subscriber)
                .cloned()
                .collect();
            mine.sort_by_key(|q| std::cmp::Reverse((q.asked_at, q.id)));
            mine.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            mine
        }))
    }
    async fn list_open(
        &self,
        supplier: Option<SupplierId>,
        after: Option<QuestionCursor>,
        limit: u32,
    ) -> Result<Vec<Question>, PortError> {
        Ok(self.with(|s| {
            let mut open: Vec<Question> = s
                .questions
                .iter()
                .filter(|q| {
                    q.answer.is_none()
                        && supplier.as_ref().is_none_or(|x| q.supplier() == Some(x))
                        && after.is_none_or(|a| q.cursor() > a)
                })
                .cloned()
                .collect();
            open.sort_by_key(Question::cursor);
            open.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            open
        }))
    }
    async fn answer(&self, id: QuestionId, answer: &Answer) -> Result<bool, PortError> {
        Ok(self.with(|s| {
            let stored = match s.questions.iter_mut().find(|q| q.id == id) {
                Some(q) if q.answer.is_none() => {
                    q.answer = Some(answer.clone());
                    true
                }
                _ => false,
            };
            s.answer_ops.push((id, stored));
            stored
        }))
    }
}

#[async_trait::async_trait]
impl OperatorRepository for World {
    async fn insert(&self, operator: &Operator) -> Result<(), WriteError> {
        self.with(|s| {
            let taken = s
                .operators
                .values()
                .any(|o| o.id == operator.id || o.login == operator.login);
            if taken {
                return Err(WriteError::Duplicate);
            }
            s.operators.insert(operator.id, operator.clone());
            Ok(())
        })
    }
    async fn get(&self, id: OperatorId) -> Result<Option<Operator>, PortError> {
        Ok(self.with(|s| s.operators.get(&id).cloned()))
    }
    async fn find_by_login(&self, login: &OperatorLogin) -> Result<Option<Operator>, PortError> {
        Ok(self.with(|s| s.operators.values().find(|o| &o.login == login).cloned()))
    }
}

#[async_trait::async_trait]
impl ApiKeyRepository for World {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), WriteError> {
        self.with(|s| {
            if s.api_keys
                .iter()
                .any(|k| k.id == key.id || k.digest == key.digest)
            {
                return Err(WriteError::Duplicate);
            }
            s.api_keys.push(key.clone());
            Ok(())
        })
    }
    async fn find_by_key_digest(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<ApiKeyRecord>, PortError> {
        Ok(self.with(|s| s.api_keys.iter().find(|k| k.digest == *digest).cloned()))
    }
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, PortError> {
        Ok(self.with(|s| s.api_keys.clone()))
    }
    async fn revoke(&self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool, PortError> {
        Ok(self.with(|s| {
            match s
                .api_keys
                .iter_mut()
                .find(|k| k.id == id && k.revoked_at.is_none())
            {
                Some(k) => {
                    k.revoked_at = Some(at);
                    true
                }
                None => false,
            }
        }))
    }
}

#[async_trait::async_trait]
impl OperatorSessionRepository for World {
    async fn insert(&self, session: &OperatorSessionRecord) -> Result<(), PortError> {
        self.with(|s| s.operator_sessions.push(session.clone()));
        Ok(())
    }
    async fn find_by_token(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<OperatorSessionRecord>, PortError> {
        Ok(self.with(|s| {
            s.operator_sessions
                .iter()
                .find(|x| x.token_digest == *digest)
                .cloned()
        }))
    }
    async fn touch(&self, id: OperatorSessionId, at: OffsetDateTime) -> Result<(), PortError> {
        self.with(|s| {
            s.operator_sessions
                .iter_mut()
                .filter(|x| x.id == id)
                .for_each(|x| x.last_seen_at = at)
        });
        Ok(())
    }
    async fn revoke(&self, id: OperatorSessionId, at: OffsetDateTime) -> Result<bool, PortError> {
        Ok(self.with(|s| {
            match s
                .operator_sessions
                .iter_mut()
                .find(|x| x.id == id && x.revoked_at.is_none())
            {
                Some(x) => {
                    x.revoked_at = Some(at);
                    true
                }
                None => false,
            }
        }))
    }
}

/// Runs a future to completion on a fresh current-thread runtime (for proptest bodies).
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}
