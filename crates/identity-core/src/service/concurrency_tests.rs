//! Races: one-time codes tried concurrently (with the core's port calls interleaved in
//! random orders) and cabinets updated concurrently (optimistic concurrency with retries).

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

use super::flow_tests::{email, phone, phone_registration, signed_in, web};
use super::testkit::{ChallengeOp, World, block_on};
use super::*;
use crate::crypto::SecretDigest;
use crate::domain::{LoginHandle, PersonName};
use crate::model::{AttemptOutcome, Challenge, Subscriber};
use crate::ports::*;

/// The in-memory challenge store, but every call first yields to the other tasks a number of
/// times taken from `schedule`, so concurrent flows interleave at every port call.
struct Interleaved {
    world: World,
    schedule: Mutex<Vec<u8>>,
}

impl Interleaved {
    async fn pause(&self) {
        let turns = self.schedule.lock().unwrap().pop().unwrap_or(0);
        for _ in 0..turns {
            tokio::task::yield_now().await;
        }
    }
}

#[async_trait::async_trait]
impl ChallengeRepository for Interleaved {
    async fn insert(&self, challenge: &Challenge) -> Result<(), PortError> {
        self.pause().await;
        ChallengeRepository::insert(&self.world, challenge).await
    }
    async fn get(&self, id: ChallengeId) -> Result<Option<Challenge>, PortError> {
        self.pause().await;
        ChallengeRepository::get(&self.world, id).await
    }
    async fn find_by_digest(&self, digest: &SecretDigest) -> Result<Option<Challenge>, PortError> {
        self.pause().await;
        self.world.find_by_digest(digest).await
    }
    async fn attempt(
        &self,
        id: ChallengeId,
        presented: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<AttemptOutcome, PortError> {
        self.pause().await;
        self.world.attempt(id, presented, at, max_attempts).await
    }
    async fn consume(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<bool, PortError> {
        self.pause().await;
        self.world.consume(id, digest, at, max_attempts).await
    }
    async fn consume_recovery(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<bool, PortError> {
        self.pause().await;
        self.world
            .consume_recovery(id, digest, at, max_attempts)
            .await
    }
    async fn reissue(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        self.pause().await;
        self.world.reissue(id, digest, issued_at, expires_at).await
    }
}

/// One round: up to four concurrent entries of the code (`Some(true)` the right one,
/// `Some(false)` a wrong one), then a wait.
type Round = ([Option<bool>; 4], i64);

fn rounds() -> impl Strategy<Value = Vec<Round>> {
    proptest::collection::vec(
        (
            [
                proptest::option::of(proptest::bool::weighted(0.3)),
                proptest::option::of(proptest::bool::weighted(0.3)),
                proptest::option::of(proptest::bool::weighted(0.3)),
                proptest::option::of(proptest::bool::weighted(0.3)),
            ],
            0i64..300,
        ),
        1..10,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// However entries of one code race (any interleaving of their port calls), given an
    /// adapter that honours the atomic `attempt` and `consume` contracts: the code is accepted
    /// at most once, only through a successful `consume`, never after its deadline, never once
    /// the attempt limit was reached, and no more than `max_attempts` wrong codes are ever
    /// compared.
    #[test]
    fn racing_entries_never_beat_the_attempt_limit(
        rounds in rounds(),
        schedule in proptest::collection::vec(0u8..4, 0..200),
    ) {
        let world = World::new();
        let mut ports = world.ports();
        ports.challenges = Arc::new(Interleaved { world: world.clone(), schedule: Mutex::new(schedule) });
        let service = IdentityService::new(ports, SecurityPolicy::default());
        let policy = service.policy().codes.clone();
        block_on(async {
            let challenge = service
                .start_registration_by_phone(phone_registration(&phone(1), &email("a")))
                .await
                .unwrap();
            let code = world.last_code(&phone(1)).unwrap();
            let issued = world.with(|s| s.now.unwrap());
            let wrong = Secret::from(if code.expose() == "000000" { "000001" } else { "000000" });
            let mut accepted_at: Vec<OffsetDateTime> = Vec::new();
            for (entries, wait) in rounds {
                let now = world.with(|s| s.now.unwrap());
                let enter = |entry: Option<bool>| {
                    let service = &service;
                    let (code, wrong) = (&code, &wrong);
                    async move {
                        match entry {
                            Some(right) => {
                                let secret = if right { code } else { wrong };
                                let result = service.confirm_registration(challenge, secret).await;
                                assert!(right || result.is_err(), "a wrong code was accepted");
                                result.is_ok()
                            }
                            None => false,
                        }
                    }
                };
                let (a, b, c, d) = tokio::join!(
                    enter(entries[0]),
                    enter(entries[1]),
                    enter(entries[2]),
                    enter(entries[3])
                );
                for ok in [a, b, c, d] {
                    if ok {
                        accepted_at.push(now);
                    }
                }
                world.advance(Duration::seconds(wait));
            }
            let ops = world.with(|s| s.challenge_ops.clone());
            let consumed: Vec<usize> = ops
                .iter()
                .enumerate()
                .filter(|(_, op)| **op == ChallengeOp::Consume(true))
                .map(|(i, _)| i)
                .collect();
            prop_assert!(accepted_at.len() <= 1, "accepted {} times", accepted_at.len());
            prop_assert_eq!(accepted_at.len(), consumed.len());
            let wrong_before = |end: usize| {
                ops[..end]
                    .iter()
                    .filter(|op| matches!(op, ChallengeOp::Attempt(AttemptOutcome::Wrong { .. })))
                    .count()
            };
            let max = usize::try_from(policy.max_attempts).unwrap();
            prop_assert!(wrong_before(ops.len()) <= max, "more wrong codes compared than allowed");
            if let (Some(at), Some(index)) = (accepted_at.first(), consumed.first()) {
                prop_assert!(*at < issued + policy.ttl, "accepted after expiry");
                prop_assert!(wrong_before(*index) < max, "accepted after the attempt limit");
            }
            prop_assert_eq!(world.with(|s| s.subscribers.len()), accepted_at.len());
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Two recovery secrets of one cabinet (the emailed link and the SMS code) used at the
    /// same time, in any interleaving of their port calls: exactly one recovery succeeds,
    /// because using one recovery challenge uses up every other in the same atomic step.
    #[test]
    fn racing_recoveries_of_one_cabinet_succeed_once(
        schedule in proptest::collection::vec(0u8..4, 0..100),
    ) {
        let world = World::new();
        let mut ports = world.ports();
        ports.challenges = Arc::new(Interleaved { world: world.clone(), schedule: Mutex::new(schedule) });
        let service = IdentityService::new(ports, SecurityPolicy::default());
        block_on(async {
            signed_in(&world, &world.service()).await;
            let recover = |target| RecoveryRequest { target, captcha: "ok".into() };
            service.start_recovery(recover(RecoveryTarget::Email(email("ivan")))).await.unwrap();
            let link = world.last_link(&email("ivan")).unwrap();
            let challenge = service
                .start_recovery(recover(RecoveryTarget::Phone(phone(1))))
                .await
                .unwrap()
                .unwrap();
            let code = world.last_code(&phone(1)).unwrap();
            let (password, client) = (Secret::from(super::flow_tests::NEW_PASSWORD), web());
            let (by_link, by_code) = tokio::join!(
                service.complete_recovery_by_link(&link, &password, &password, &client),
                service.complete_recovery_by_code(challenge, &code, &password, &password, &client),
            );
            let successes = usize::from(by_link.is_ok()) + usize::from(by_code.is_ok());
            prop_assert_eq!(successes, 1, "link: {:?}, code: {:?}", by_link, by_code);
            let loser = if by_link.is_ok() { by_code } else { by_link };
            prop_assert!(matches!(loser, Err(CompleteRecoveryError::Code(CodeRejected::Used))));
            Ok(())
        })?;
    }
}

/// The in-memory subscriber store, but before each of the first `races` updates another
/// writer renames the cabinet (and so bumps its version) first.
struct Racing {
    world: World,
    races: Mutex<u32>,
}

#[async_trait::async_trait]
impl SubscriberRepository for Racing {
    async fn insert(&self, subscriber: &Subscriber) -> Result<(), WriteError> {
        SubscriberRepository::insert(&self.world, subscriber).await
    }
    async fn update(&self, subscriber: &Subscriber) -> Result<(), WriteError> {
        let race = {
            let mut races = self.races.lock().unwrap();
            let race = *races > 0;
            *races = races.saturating_sub(1);
            race
        };
        if race {
            let mut other = SubscriberRepository::get(&self.world, subscriber.id)
                .await?
                .unwrap();
            other.name = PersonName::parse("Петров Пётр Петрович").unwrap();
            self.world.update(&other).await?;
        }
        self.world.update(subscriber).await
    }
    async fn get(&self, id: SubscriberId) -> Result<Option<Subscriber>, PortError> {
        SubscriberRepository::get(&self.world, id).await
    }
    async fn find_by_handle(&self, handle: &LoginHandle) -> Result<Option<Subscriber>, PortError> {
        self.world.find_by_handle(handle).await
    }
}

fn racing(world: &World, races: u32) -> IdentityService {
    let mut ports = world.ports();
    ports.subscribers = Arc::new(Racing {
        world: world.clone(),
        races: Mutex::new(races),
    });
    IdentityService::new(ports, SecurityPolicy::default())
}

#[tokio::test]
async fn a_settings_change_that_loses_a_race_is_reapplied_not_lost() {
    let world = World::new();
    let (id, auth) = signed_in(&world, &world.service()).await;
    let service = racing(&world, 2);
    let challenge = service
        .request_phone_change(&auth, &phone(7))
        .await
        .unwrap();
    let code = world.last_code(&phone(7)).unwrap();
    service
        .confirm_phone_change(&auth, challenge, &code, &web())
        .await
        .unwrap();
    let record = world.with(|s| s.subscribers[&id].clone());
    // Both writes survive: the concurrent rename and the new phone.
    assert_eq!(record.phone, Some(phone(7)));
    assert_eq!(record.name.as_str(), "Петров Пётр Петрович");
}

#[tokio::test]
async fn endless_contention_is_reported_after_a_few_tries() {
    let world = World::new();
    let (id, auth) = signed_in(&world, &world.service()).await;
    let service = racing(&world, UPDATE_ATTEMPTS);
    let name = PersonName::parse("Сидоров Сидор").unwrap();
    let result = service.update_personal_data(&auth, name, &web()).await;
    assert!(matches!(
        result,
        Err(UpdatePersonalDataError::Unexpected(_))
    ));
    assert_ne!(
        world.with(|s| s.subscribers[&id].name.as_str().to_owned()),
        "Сидоров Сидор"
    );
}

#[tokio::test]
async fn a_password_changed_meanwhile_is_not_overwritten() {
    let world = World::new();
    let (id, auth) = signed_in(&world, &world.service()).await;
    // The concurrent writer changes the password between our check and our write.
    let mut ports = world.ports();
    struct PasswordRace(World, Mutex<bool>);
    #[async_trait::async_trait]
    impl SubscriberRepository for PasswordRace {
        async fn insert(&self, s: &Subscriber) -> Result<(), WriteError> {
            SubscriberRepository::insert(&self.0, s).await
        }
        async fn update(&self, s: &Subscriber) -> Result<(), WriteError> {
            if std::mem::take(&mut *self.1.lock().unwrap()) {
                let mut other = SubscriberRepository::get(&self.0, s.id).await?.unwrap();
                other.password_hash = Some(crate::password::PasswordHash::from_phc(
                    "$fake$someone else's",
                ));
                self.0.update(&other).await?;
            }
            self.0.update(s).await
        }
        async fn get(&self, id: SubscriberId) -> Result<Option<Subscriber>, PortError> {
            SubscriberRepository::get(&self.0, id).await
        }
        async fn find_by_handle(&self, h: &LoginHandle) -> Result<Option<Subscriber>, PortError> {
            self.0.find_by_handle(h).await
        }
    }
    ports.subscribers = Arc::new(PasswordRace(world.clone(), Mutex::new(true)));
    let service = IdentityService::new(ports, SecurityPolicy::default());
    let request = ChangePassword {
        old: super::flow_tests::PASSWORD.into(),
        new: super::flow_tests::NEW_PASSWORD.into(),
        new_repeat: super::flow_tests::NEW_PASSWORD.into(),
    };
    let result = service.change_password(&auth, request, &web()).await;
    assert!(matches!(result, Err(ChangePasswordError::WrongPassword)));
    let stored = world.with(|s| s.subscribers[&id].password_hash.clone().unwrap());
    assert_eq!(stored.as_phc(), "$fake$someone else's");
}
