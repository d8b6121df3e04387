//! Property tests over the in-memory world: one-time codes and links, session tokens, and the
//! uniqueness of login handles, under random sequences of operations and time steps.

use proptest::prelude::*;
use time::Duration;

use super::flow_tests::{PASSWORD, email, login, phone, phone_registration, register, web};
use super::testkit::{World, block_on};
use super::*;
use crate::domain::LoginHandle;

#[derive(Debug, Clone)]
enum CodeStep {
    Wait(i64),
    Right,
    Wrong,
}

fn code_steps() -> impl Strategy<Value = Vec<CodeStep>> {
    proptest::collection::vec(
        prop_oneof![
            (0i64..400).prop_map(CodeStep::Wait),
            Just(CodeStep::Right),
            Just(CodeStep::Wrong)
        ],
        1..25,
    )
}

#[derive(Debug, Clone)]
enum SessionStep {
    Wait(i64),
    Use,
    Logout,
    RevokeAll,
    Block,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A code is accepted at most once, never after its deadline, never after the attempt
    /// limit was reached.
    #[test]
    fn a_code_is_accepted_at_most_once_in_time_and_within_attempts(steps in code_steps()) {
        let world = World::new();
        let service = world.service();
        let policy = service.policy().codes.clone();
        block_on(async {
            let challenge = service.start_registration_by_phone(phone_registration(&phone(1), &email("a"))).await.unwrap();
            let code = world.last_code(&phone(1)).unwrap();
            let issued = world.with(|s| s.now.unwrap());
            let wrong = Secret::from(if code.expose() == "000000" { "000001" } else { "000000" });
            let mut accepted = 0;
            let mut wrong_before = 0;
            for step in steps {
                match step {
                    CodeStep::Wait(secs) => world.advance(Duration::seconds(secs)),
                    CodeStep::Wrong => {
                        let result = service.confirm_registration(challenge, &wrong).await;
                        prop_assert!(result.is_err());
                        if matches!(result, Err(ConfirmRegistrationError::Code(CodeRejected::Invalid | CodeRejected::TooManyAttempts))) {
                            wrong_before += 1;
                        }
                    }
                    CodeStep::Right => {
                        let now = world.with(|s| s.now.unwrap());
                        if service.confirm_registration(challenge, &code).await.is_ok() {
                            accepted += 1;
                            prop_assert!(now < issued + policy.ttl, "accepted after expiry");
                            prop_assert!(wrong_before < policy.max_attempts, "accepted after too many attempts");
                        }
                    }
                }
            }
            prop_assert!(accepted <= 1);
            prop_assert!(world.with(|s| s.subscribers.len()) <= 1);
            Ok(())
        })?;
    }

    /// A recovery link works at most once and never after its hour.
    #[test]
    fn a_link_is_never_accepted_after_use_or_expiry(steps in proptest::collection::vec(prop_oneof![(0i64..1800).prop_map(Some), Just(None)], 1..12)) {
        let world = World::new();
        let service = world.service();
        block_on(async {
            register(&world, &service, &phone(1), &email("a")).await;
            service.start_recovery(RecoveryRequest { target: RecoveryTarget::Email(email("a")), captcha: "ok".into() }).await.unwrap();
            let token = world.last_link(&email("a")).unwrap();
            let issued = world.with(|s| s.now.unwrap());
            let new = Secret::from("correct horse battery staple");
            let mut used = false;
            for step in steps {
                match step {
                    Some(secs) => world.advance(Duration::seconds(secs)),
                    None => {
                        let now = world.with(|s| s.now.unwrap());
                        let result = service.complete_recovery_by_link(&token, &new, &new, &web()).await;
                        if result.is_ok() {
                            prop_assert!(!used, "accepted twice");
                            prop_assert!(now < issued + Duration::HOUR, "accepted after expiry");
                            used = true;
                        }
                    }
                }
            }
            Ok(())
        })?;
    }

    /// A session token is never accepted after logout, revocation, blocking, idle expiry or
    /// absolute expiry. Activity is recorded at most once per touch interval, so the idle
    /// timeout runs from the last *recorded* use: a session is never accepted `idle_timeout`
    /// or more after its last use, and never refused for idleness less than `idle_timeout -
    /// touch_interval` after it.
    #[test]
    fn a_session_token_is_never_accepted_after_revocation_or_expiry(
        steps in proptest::collection::vec(
            prop_oneof![
                // Short waits exercise skipped activity writes, waits near the idle
                // timeout the granularity of idle expiry.
                2 => (0i64..120).prop_map(SessionStep::Wait),
                1 => (1700i64..1800).prop_map(SessionStep::Wait),
                2 => (0i64..3000).prop_map(SessionStep::Wait),
                6 => Just(SessionStep::Use),
                1 => Just(SessionStep::Logout),
                1 => Just(SessionStep::RevokeAll),
                1 => Just(SessionStep::Block),
            ],
            1..40,
        )
    ) {
        let world = World::new();
        let service = world.service();
        let sessions = service.policy().sessions.clone();
        block_on(async {
            register(&world, &service, &phone(1), &email("a")).await;
            let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD).await.unwrap();
            let created = world.with(|s| s.now.unwrap());
            let mut last_use = created;
            let mut last_recorded = created;
            let mut dead = false;
            for step in steps {
                let now = world.with(|s| s.now.unwrap());
                match step {
                    SessionStep::Wait(secs) => world.advance(Duration::seconds(secs)),
                    SessionStep::Use => {
                        let idled_out = now >= last_recorded + sessions.idle_timeout;
                        let expired = idled_out || now >= created + sessions.absolute_lifetime;
                        dead |= expired;
                        let ok = service.authenticate(&session.token).await.is_ok();
                        prop_assert_eq!(ok, !dead);
                        // Never outlives its idle timeout after the last use...
                        prop_assert!(!ok || now < last_use + sessions.idle_timeout);
                        // ...and never ends for idleness more than one touch interval early.
                        prop_assert!(!idled_out || now >= last_use + sessions.idle_timeout - sessions.touch_interval);
                        if ok {
                            if sessions.touch_due(last_recorded, now) {
                                last_recorded = now;
                            }
                            last_use = now;
                        }
                    }
                    SessionStep::Logout | SessionStep::RevokeAll | SessionStep::Block => {
                        if let Ok(auth) = service.authenticate(&session.token).await {
                            if sessions.touch_due(last_recorded, now) {
                                last_recorded = now;
                            }
                            last_use = now;
                            match step {
                                SessionStep::Logout => service.logout(&auth, &web()).await.unwrap(),
                                SessionStep::RevokeAll => { service.logout_everywhere(&auth, &web()).await.unwrap(); }
                                _ => service.block_cabinet(&auth, &web()).await.unwrap(),
                            }
                            dead = true;
                        }
                    }
                }
            }
            Ok(())
        })?;
    }

    /// However registrations interleave, no login handle ever belongs to two cabinets.
    #[test]
    fn two_registrations_never_own_the_same_handle(
        plan in proptest::collection::vec((0u32..3, 0u32..3, any::<bool>(), 0i64..90), 1..12)
    ) {
        let world = World::new();
        let service = world.service();
        block_on(async {
            let mut pending = Vec::new();
            for (p, e, confirm_now, wait) in plan {
                world.advance(Duration::seconds(wait));
                let request = phone_registration(&phone(p), &email(&format!("user{e}")));
                if let Ok(challenge) = service.start_registration_by_phone(request).await {
                    pending.push((challenge, phone(p), world.last_code(&phone(p))));
                }
                if confirm_now {
                    for (challenge, _, code) in pending.drain(..) {
                        if let Some(code) = code {
                            let _ = service.confirm_registration(challenge, &code).await;
                        }
                    }
                    for n in 0..3 {
                        if let Some(token) = world.last_link(&email(&format!("user{n}"))) {
                            let _ = service.confirm_email(&token, &web()).await;
                        }
                    }
                }
            }
            let handles: Vec<LoginHandle> = world.with(|s| s.subscribers.values().flat_map(|x| x.handles()).collect());
            let mut unique = handles.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), handles.len(), "a handle has two owners: {:?}", handles);
            prop_assert!(world.with(|s| s.subscribers.len()) <= 3);
            Ok(())
        })?;
    }
}
