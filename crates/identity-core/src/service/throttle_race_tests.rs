//! Throttling under concurrency: guesses at one cabinet's password through every path that
//! shares its login limit, and codes sent to one phone through every path that shares its
//! delivery limit, run concurrently with the port calls interleaved in random orders. What
//! is measured is the effect the limit exists to bound — password verifications actually
//! performed, SMS actually sent — and it must be a history the limit would have allowed one
//! attempt at a time: never more than the limit in any window, the minimum interval and the
//! exponential back-off kept.
//!
//! The same harness run against [`CheckThenRecord`], a store that reads, decides and records
//! in separate steps (the design this crate had before `ThrottleRepository::reserve`), lets
//! concurrent guesses through beyond the limit; a test asserts that the harness catches it.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

use super::flow_tests::{PASSWORD, account_registration, email, facts, phone, register, web};
use super::testkit::{World, block_on};
use super::*;
use crate::domain::{AccountNumber, LoginHandle};
use crate::model::{Message, Reservation};
use crate::password::PasswordHash;
use crate::policy::Backoff;
use crate::ports::*;

const NUMBER: &str = "1234567890123";
const WRONG: &str = "не тот пароль совсем";

/// How many times each port call yields to the other tasks first, popped from the end.
struct Schedule(Mutex<Vec<u8>>);

impl Schedule {
    async fn pause(&self) {
        let turns = self.0.lock().unwrap().pop().unwrap_or(0);
        for _ in 0..turns {
            tokio::task::yield_now().await;
        }
    }
}

/// The in-memory store (atomic: one lock for read, decision and record), with a pause before
/// every call so that concurrent flows reach it in varied orders.
struct Atomic {
    world: World,
    schedule: Arc<Schedule>,
}

#[async_trait::async_trait]
impl ThrottleRepository for Atomic {
    async fn reserve(
        &self,
        key: &ThrottleKey,
        limit: &RateLimit,
        at: OffsetDateTime,
    ) -> Result<Reservation, PortError> {
        self.schedule.pause().await;
        self.world.reserve(key, limit, at).await
    }
    async fn release(&self, key: &ThrottleKey, at: OffsetDateTime) -> Result<(), PortError> {
        self.schedule.pause().await;
        self.world.release(key, at).await
    }
    async fn clear(&self, key: &ThrottleKey) -> Result<(), PortError> {
        self.schedule.pause().await;
        self.world.clear(key).await
    }
}

/// A deliberately broken store: it reads the events, lets other tasks run, then decides and
/// records — check-then-act in two steps. Kept as the negative control of the harness.
struct CheckThenRecord {
    world: World,
    schedule: Arc<Schedule>,
}

#[async_trait::async_trait]
impl ThrottleRepository for CheckThenRecord {
    async fn reserve(
        &self,
        key: &ThrottleKey,
        limit: &RateLimit,
        at: OffsetDateTime,
    ) -> Result<Reservation, PortError> {
        let since = at - limit.lookback();
        let events: Vec<OffsetDateTime> = self.world.with(|s| {
            s.throttle
                .get(key)
                .map(|v| v.iter().copied().filter(|t| *t > since).collect())
                .unwrap_or_default()
        });
        self.schedule.pause().await;
        match limit.check(&events, at) {
            Ok(()) => {
                self.world
                    .with(|s| s.throttle.entry(key.clone()).or_default().push(at));
                Ok(Reservation::Granted)
            }
            Err(retry_after) => Ok(Reservation::Refused { retry_after }),
        }
    }
    async fn release(&self, key: &ThrottleKey, at: OffsetDateTime) -> Result<(), PortError> {
        self.world.release(key, at).await
    }
    async fn clear(&self, key: &ThrottleKey) -> Result<(), PortError> {
        self.world.clear(key).await
    }
}

#[derive(Clone, Copy, Debug)]
enum Store {
    Atomic,
    CheckThenRecord,
}

fn throttle(store: Store, world: &World, schedule: Vec<u8>) -> Arc<dyn ThrottleRepository> {
    let schedule = Arc::new(Schedule(Mutex::new(schedule)));
    let world = world.clone();
    match store {
        Store::Atomic => Arc::new(Atomic { world, schedule }),
        Store::CheckThenRecord => Arc::new(CheckThenRecord { world, schedule }),
    }
}

/// The world's fake hasher, noting the time of every verification against one hash.
struct CountingHasher {
    world: World,
    watched: Option<PasswordHash>,
    verified_at: Mutex<Vec<OffsetDateTime>>,
}

#[async_trait::async_trait]
impl PasswordHasher for CountingHasher {
    async fn hash(&self, password: &Secret<String>) -> Result<PasswordHash, PortError> {
        self.world.hash(password).await
    }
    async fn verify(
        &self,
        password: &Secret<String>,
        hash: &PasswordHash,
    ) -> Result<bool, PortError> {
        if self.watched.as_ref() == Some(hash) {
            let now = self.world.with(|s| s.now.unwrap());
            self.verified_at.lock().unwrap().push(now);
        }
        PasswordHasher::verify(&self.world, password, hash).await
    }
}

/// The world's SMS outbox, noting the time of every message to one phone.
struct CountingSms {
    world: World,
    watched: Phone,
    sent_at: Mutex<Vec<OffsetDateTime>>,
}

#[async_trait::async_trait]
impl SmsSender for CountingSms {
    async fn send(&self, to: &Phone, message: &Message) -> Result<(), PortError> {
        if *to == self.watched {
            let now = self.world.with(|s| s.now.unwrap());
            self.sent_at.lock().unwrap().push(now);
        }
        SmsSender::send(&self.world, to, message).await
    }
}

/// Whether `times` (in order) is a history `limit` allows one attempt at a time: each attempt
/// would have been allowed given every earlier one (which keeps the minimum interval and the
/// back-off), and no window of `limit.window` holds more than `limit.max_events`. `Err` says
/// where it breaks.
fn one_at_a_time(limit: &RateLimit, times: &[OffsetDateTime]) -> Result<(), String> {
    let max = usize::try_from(limit.max_events).unwrap();
    for (j, t) in times.iter().enumerate() {
        let in_window = times[..=j]
            .iter()
            .filter(|s| **s > *t - limit.window)
            .count();
        if in_window > max {
            return Err(format!(
                "{in_window} attempts in the window ending at attempt {j}, limit {max}"
            ));
        }
        if let Err(wait) = limit.check(&times[..j], *t) {
            return Err(format!("attempt {j} came {wait} too early"));
        }
    }
    Ok(())
}

/// Small limits, so that a few rounds of concurrent attempts reach them.
fn limits() -> impl Strategy<Value = RateLimit> {
    (
        1u32..6,
        1i64..300,
        0i64..30,
        proptest::option::of((0u32..4, 1i64..20, 1i64..120)),
    )
        .prop_map(|(max_events, window, min_interval, backoff)| RateLimit {
            max_events,
            window: Duration::seconds(window),
            min_interval: Duration::seconds(min_interval),
            backoff: backoff.map(|(free_events, base, max)| Backoff {
                free_events,
                base: Duration::seconds(base),
                max: Duration::seconds(base.max(max)),
            }),
        })
}

/// One round: up to four concurrent attempts (each a path number, taken modulo the number
/// of paths), then a wait in seconds.
type Round = ([Option<u8>; 4], i64);

fn rounds() -> impl Strategy<Value = Vec<Round>> {
    let slot = || proptest::option::weighted(0.8, 0u8..8);
    proptest::collection::vec(([slot(), slot(), slot(), slot()], 0i64..40), 1..12)
}

/// Wrong-password guesses at one cabinet (registered by ЛС, phone 3) through the four paths
/// that share its login limit: login by ЛС number, login by phone, a wrong current password
/// in settings, and linking its ЛС from another cabinet with a wrong password. Returns the
/// times of the password verifications actually performed against the cabinet's hash.
async fn guess_race(
    store: Store,
    limit: &RateLimit,
    rounds: &[Round],
    schedule: Vec<u8>,
) -> Vec<OffsetDateTime> {
    let world = World::new();
    let setup = world.service();
    world.with(|s| s.directory.push(facts(NUMBER, "Петров Пётр Петрович", "c")));
    let challenge = setup
        .start_registration_by_account(account_registration(NUMBER, "Петров П.П.", None, &phone(3)))
        .await
        .unwrap();
    let code = world.last_code(&phone(3)).unwrap();
    let target = setup
        .complete_registration_by_account(challenge, &code, &PASSWORD.into(), &PASSWORD.into())
        .await
        .unwrap();
    let linker = register(&world, &setup, &phone(1), &email("ivan")).await;

    let hasher = Arc::new(CountingHasher {
        world: world.clone(),
        watched: world.with(|s| s.subscribers[&target].password_hash.clone()),
        verified_at: Mutex::new(Vec::new()),
    });
    let mut ports = world.ports();
    ports.hasher = hasher.clone();
    ports.throttle = throttle(store, &world, schedule);
    let policy = SecurityPolicy {
        login: limit.clone(),
        // Generous, so that only the login limit decides.
        link_proof: RateLimit {
            max_events: 1000,
            window: Duration::HOUR,
            min_interval: Duration::ZERO,
            backoff: None,
        },
        ..SecurityPolicy::default()
    };
    let service = IdentityService::new(ports, policy);
    let session = SessionId::from_bytes([7; 16]);
    let (target_auth, linker_auth) = (
        Authenticated::new_unchecked(target, session),
        Authenticated::new_unchecked(linker, session),
    );
    let number = AccountNumber::parse(NUMBER).unwrap();

    for (slots, wait) in rounds {
        let guess = |slot: Option<u8>| {
            let (service, number) = (&service, &number);
            let (target_auth, linker_auth) = (&target_auth, &linker_auth);
            async move {
                let Some(path) = slot else { return };
                let wrong = Secret::from(WRONG);
                let refused = match path % 4 {
                    0 | 1 => {
                        let handle = if path % 4 == 0 {
                            LoginHandle::Account(number.clone())
                        } else {
                            LoginHandle::Phone(phone(3))
                        };
                        let request = LoginRequest {
                            handle,
                            password: wrong,
                            client: web(),
                        };
                        service.login(request).await.is_err()
                    }
                    2 => {
                        let request = ChangePassword {
                            old: wrong,
                            new: PASSWORD.into(),
                            new_repeat: PASSWORD.into(),
                        };
                        service
                            .change_password(target_auth, request, &web())
                            .await
                            .is_err()
                    }
                    _ => service
                        .link_by_cabinet_password(linker_auth, number, &wrong, &web())
                        .await
                        .is_err(),
                };
                assert!(refused, "a wrong password got through");
            }
        };
        tokio::join!(
            guess(slots[0]),
            guess(slots[1]),
            guess(slots[2]),
            guess(slots[3])
        );
        world.advance(Duration::seconds(*wait));
    }
    hasher.verified_at.lock().unwrap().clone()
}

/// Codes and notices to one phone (phone 1, which has a cabinet) through the three paths
/// that share its delivery limit: starting recovery by phone, resending the recovery code,
/// and another cabinet asking to move to that phone (which sends the phone a notice). Returns
/// the times of every SMS to the phone, those sent during set-up included.
async fn delivery_race(
    store: Store,
    limit: &RateLimit,
    rounds: &[Round],
    schedule: Vec<u8>,
) -> Vec<OffsetDateTime> {
    let world = World::new();
    let setup = world.service();
    register(&world, &setup, &phone(2), &email("maria")).await;
    let mover = Authenticated::new_unchecked(
        world.with(|s| *s.subscribers.keys().next().unwrap()),
        SessionId::from_bytes([7; 16]),
    );

    let sms = Arc::new(CountingSms {
        world: world.clone(),
        watched: phone(1),
        sent_at: Mutex::new(Vec::new()),
    });
    let mut ports = world.ports();
    ports.sms = sms.clone();
    ports.throttle = throttle(store, &world, schedule);
    let policy = SecurityPolicy {
        delivery: limit.clone(),
        ..SecurityPolicy::default()
    };
    let service = IdentityService::new(ports, policy);
    // Phone 1's cabinet, registered through the service under test so that its code counts.
    let started = service
        .start_registration_by_phone(super::flow_tests::phone_registration(
            &phone(1),
            &email("ivan"),
        ))
        .await
        .unwrap();
    let code = world.last_code(&phone(1)).unwrap();
    service.confirm_registration(started, &code).await.unwrap();
    let recovery = RecoveryRequest {
        target: RecoveryTarget::Phone(phone(1)),
        captcha: "ok".into(),
    };
    let first = Mutex::new(None);

    for (slots, wait) in rounds {
        let send = |slot: Option<u8>| {
            let (service, recovery, first, mover) = (&service, &recovery, &first, &mover);
            async move {
                let Some(path) = slot else { return };
                match path % 3 {
                    0 => {
                        if let Ok(Some(id)) = service.start_recovery(recovery.clone()).await {
                            first.lock().unwrap().get_or_insert(id);
                        }
                    }
                    1 => {
                        let id = *first.lock().unwrap();
                        if let Some(id) = id {
                            let _ = service.resend_code(id).await;
                        }
                    }
                    _ => {
                        let _ = service.request_phone_change(mover, &phone(1)).await;
                    }
                }
            }
        };
        tokio::join!(
            send(slots[0]),
            send(slots[1]),
            send(slots[2]),
            send(slots[3])
        );
        world.advance(Duration::seconds(*wait));
    }
    sms.sent_at.lock().unwrap().clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// However guesses at one password race through login, settings and linking (any
    /// interleaving of their port calls), the verifications performed form a history the
    /// login limit allows one at a time: never more than the limit in any window, the
    /// exponential back-off kept.
    #[test]
    fn racing_guesses_never_beat_the_login_limit(
        limit in limits(),
        rounds in rounds(),
        schedule in proptest::collection::vec(0u8..4, 0..300),
    ) {
        let verified = block_on(guess_race(Store::Atomic, &limit, &rounds, schedule));
        prop_assert_eq!(one_at_a_time(&limit, &verified), Ok(()));
    }

    /// However requests for codes to one phone race (recovery, resend, phone change), the
    /// SMS sent form a history the delivery limit allows one at a time.
    #[test]
    fn racing_code_requests_never_beat_the_delivery_limit(
        limit in limits(),
        rounds in rounds(),
        schedule in proptest::collection::vec(0u8..4, 0..300),
    ) {
        let sent = block_on(delivery_race(Store::Atomic, &limit, &rounds, schedule));
        prop_assert_eq!(one_at_a_time(&limit, &sent), Ok(()));
    }
}

/// Two free guesses an hour, four guesses at once, each store call yielding once.
fn two_an_hour() -> RateLimit {
    RateLimit {
        max_events: 2,
        window: Duration::HOUR,
        min_interval: Duration::ZERO,
        backoff: None,
    }
}

#[test]
fn the_harness_catches_a_check_then_record_store() {
    let rounds = [([Some(0), Some(1), Some(2), Some(3)], 0)];
    let schedule = vec![1; 64];
    let limit = two_an_hour();
    let verified = block_on(guess_race(
        Store::CheckThenRecord,
        &limit,
        &rounds,
        schedule.clone(),
    ));
    // The race the atomic reservation closes: guesses that read "no failures yet" before the
    // others recorded theirs all got through.
    assert!(verified.len() > 2, "verified {}", verified.len());
    assert!(one_at_a_time(&limit, &verified).is_err());
    // The same race against the atomic store lets exactly the limit through.
    let verified = block_on(guess_race(Store::Atomic, &limit, &rounds, schedule));
    assert_eq!(verified.len(), 2);
    assert_eq!(one_at_a_time(&limit, &verified), Ok(()));
}

#[test]
fn the_harness_catches_a_check_then_record_store_for_codes() {
    let rounds = [([Some(0), Some(2), Some(0), Some(2)], 0)];
    let limit = two_an_hour();
    // One code at registration leaves room for one more; the four requests race for it.
    let sent = block_on(delivery_race(
        Store::CheckThenRecord,
        &limit,
        &rounds,
        vec![1; 64],
    ));
    assert!(sent.len() > 2, "sent {}", sent.len());
    assert!(one_at_a_time(&limit, &sent).is_err());
    let sent = block_on(delivery_race(Store::Atomic, &limit, &rounds, vec![1; 64]));
    assert_eq!(sent.len(), 2);
    assert_eq!(one_at_a_time(&limit, &sent), Ok(()));
}

#[test]
fn one_at_a_time_accepts_exactly_what_the_limit_allows() {
    let limit = RateLimit {
        max_events: 2,
        window: Duration::minutes(1),
        min_interval: Duration::seconds(10),
        backoff: None,
    };
    let t0 = super::testkit::T0;
    let at = |s: i64| t0 + Duration::seconds(s);
    assert_eq!(one_at_a_time(&limit, &[at(0), at(10), at(61)]), Ok(()));
    assert!(one_at_a_time(&limit, &[at(0), at(5)]).is_err());
    assert!(one_at_a_time(&limit, &[at(0), at(10), at(20)]).is_err());
}
