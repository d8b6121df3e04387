//! Tests with `mockall` mocks: every port's failure surfaces as the operation's `Unexpected`
//! error, and the timing-equalising behaviour of login is checked call by call.

use std::sync::Arc;

use super::flow_tests::{PASSWORD, email, login, phone, phone_registration, register, web};
use super::testkit::World;
use super::*;
use crate::domain::{ConsentId, LoginHandle};
use crate::ports::*;

fn fail() -> PortError {
    PortError::new("injected failure")
}

/// A world whose ports are replaced by `patch` after a cabinet was registered and signed in.
async fn signed_in_with(patch: impl FnOnce(&mut Ports)) -> (World, IdentityService, Authenticated) {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let auth = service.authenticate(&session.token).await.unwrap();
    let mut ports = world.ports();
    patch(&mut ports);
    (
        world,
        IdentityService::new(ports, SecurityPolicy::default()),
        auth,
    )
}

#[tokio::test]
async fn a_failing_random_source_fails_registration() {
    let mut random = MockRandom::new();
    random.expect_fill().returning(|_| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.random = Arc::new(random)).await;
    let result = service
        .start_registration_by_phone(phone_registration(&phone(2), &email("b")))
        .await;
    assert!(matches!(result, Err(StartRegistrationError::Unexpected(_))));
}

#[tokio::test]
async fn a_failing_hasher_fails_login() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().returning(|_, _| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.hasher = Arc::new(hasher)).await;
    let result = login(&service, LoginHandle::Phone(phone(1)), PASSWORD).await;
    assert!(matches!(result, Err(LoginError::Unexpected(_))));
}

#[tokio::test]
async fn a_failing_subscriber_store_fails_login() {
    let mut subscribers = MockSubscriberRepository::new();
    subscribers
        .expect_find_by_handle()
        .returning(|_| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.subscribers = Arc::new(subscribers)).await;
    assert!(matches!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD).await,
        Err(LoginError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_link_store_fails_linking() {
    let mut links = MockLinkRepository::new();
    links.expect_list().returning(|_| Err(fail()));
    let (_, service, auth) = signed_in_with(|p| p.links = Arc::new(links)).await;
    assert!(matches!(
        service.list_linked_accounts(&auth).await,
        Err(ListLinkedAccountsError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_session_store_fails_authentication() {
    let mut sessions = MockSessionRepository::new();
    sessions
        .expect_find_with_subscriber()
        .returning(|_| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.sessions = Arc::new(sessions)).await;
    assert!(matches!(
        service.authenticate(&"token".into()).await,
        Err(AuthenticateError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_challenge_store_fails_confirmation() {
    let mut challenges = MockChallengeRepository::new();
    challenges
        .expect_attempt()
        .returning(|_, _, _, _| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.challenges = Arc::new(challenges)).await;
    let result = service
        .confirm_registration(ChallengeId::from_bytes([1; 16]), &"123456".into())
        .await;
    assert!(matches!(
        result,
        Err(ConfirmRegistrationError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_throttle_store_fails_login_closed() {
    let mut throttle = MockThrottleRepository::new();
    throttle.expect_reserve().returning(|_, _, _| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.throttle = Arc::new(throttle)).await;
    // Fails closed: no login without the throttle check.
    assert!(matches!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD).await,
        Err(LoginError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_throttle_release_fails_closed() {
    // A right password whose reservation cannot be given back is reported, not ignored.
    let mut throttle = MockThrottleRepository::new();
    throttle
        .expect_reserve()
        .returning(|_, _, _| Ok(crate::model::Reservation::Granted));
    throttle.expect_release().returning(|_, _| Err(fail()));
    let (_, service, auth) = signed_in_with(|p| p.throttle = Arc::new(throttle)).await;
    let request = ChangePassword {
        old: PASSWORD.into(),
        new: super::flow_tests::NEW_PASSWORD.into(),
        new_repeat: super::flow_tests::NEW_PASSWORD.into(),
    };
    assert!(matches!(
        service.change_password(&auth, request, &web()).await,
        Err(ChangePasswordError::Unexpected(_))
    ));
}

#[tokio::test]
async fn every_login_takes_one_reservation_and_only_success_clears_it() {
    let world = World::new();
    register(&world, &world.service(), &phone(1), &email("ivan")).await;
    let login_with = |reserves: usize, clears: usize| {
        let mut throttle = MockThrottleRepository::new();
        throttle
            .expect_reserve()
            .times(reserves)
            .returning(|key, limit, _| {
                assert_eq!(key.scope, crate::model::ThrottleScope::Login);
                assert_eq!(*limit, SecurityPolicy::default().login);
                Ok(crate::model::Reservation::Granted)
            });
        // A failure keeps its reservation as its record: nothing is given back.
        throttle.expect_release().times(0);
        throttle.expect_clear().times(clears).returning(|_| Ok(()));
        let mut ports = world.ports();
        ports.throttle = Arc::new(throttle);
        IdentityService::new(ports, SecurityPolicy::default())
    };
    // Unknown handle and wrong password: one reservation each, the same work.
    let service = login_with(2, 0);
    assert!(
        login(&service, LoginHandle::Phone(phone(9)), PASSWORD)
            .await
            .is_err()
    );
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), "wrong")
            .await
            .is_err()
    );
    drop(service);
    // The right password: one reservation, then the count is cleared.
    let service = login_with(1, 1);
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_refused_reservation_stops_login_before_the_password_is_checked() {
    let world = World::new();
    let mut ports = world.ports();
    let mut throttle = MockThrottleRepository::new();
    throttle.expect_reserve().returning(|_, _, _| {
        Ok(crate::model::Reservation::Refused {
            retry_after: time::Duration::seconds(4),
        })
    });
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().times(0);
    hasher.expect_hash().times(0);
    ports.throttle = Arc::new(throttle);
    ports.hasher = Arc::new(hasher);
    let service = IdentityService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD).await,
        Err(LoginError::TooManyAttempts { retry_after }) if retry_after == time::Duration::seconds(4)
    ));
}

#[tokio::test]
async fn a_failing_consent_store_fails_withdrawal() {
    let mut consents = MockConsentRepository::new();
    consents.expect_withdraw().returning(|_, _, _| Err(fail()));
    let (_, service, auth) = signed_in_with(|p| p.consents = Arc::new(consents)).await;
    let result = service
        .withdraw_consent(&auth, ConsentId::from_bytes([2; 16]), &web())
        .await;
    assert!(matches!(result, Err(WithdrawConsentError::Unexpected(_))));
}

#[tokio::test]
async fn a_failing_security_log_fails_the_operation() {
    let mut log = MockSecurityLog::new();
    log.expect_append().returning(|_| Err(fail()));
    log.expect_list().returning(|_, _| Err(fail()));
    let (_, service, auth) = signed_in_with(|p| p.security_log = Arc::new(log)).await;
    assert!(matches!(
        service.logout_everywhere(&auth, &web()).await,
        Err(LogoutEverywhereError::Unexpected(_))
    ));
    assert!(matches!(
        service.security_log(&auth, 10).await,
        Err(SecurityLogError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_sms_gateway_fails_code_delivery_but_not_notices() {
    let mut sms = MockSmsSender::new();
    sms.expect_send().returning(|_, _| Err(fail()));
    let (world, service, auth) = signed_in_with(|p| p.sms = Arc::new(sms)).await;
    let result = service.request_phone_change(&auth, &phone(2)).await;
    assert!(matches!(result, Err(ChangePhoneError::Unexpected(_))));
    // The block notice cannot be sent, but the block happened.
    service.block_cabinet(&auth, &web()).await.unwrap();
    assert!(world.with(|s| s.subscribers.values().all(|x| x.is_blocked())));
}

#[tokio::test]
async fn a_failing_mailer_fails_recovery_start() {
    let mut mailer = MockEmailSender::new();
    mailer.expect_send().returning(|_, _| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.email = Arc::new(mailer)).await;
    let request = RecoveryRequest {
        target: RecoveryTarget::Email(email("ivan")),
        captcha: "ok".into(),
    };
    assert!(matches!(
        service.start_recovery(request).await,
        Err(StartRecoveryError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_captcha_service_fails_registration() {
    let mut captcha = MockCaptchaVerifier::new();
    captcha.expect_verify().returning(|_| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.captcha = Arc::new(captcha)).await;
    let result = service
        .start_registration_by_phone(phone_registration(&phone(2), &email("b")))
        .await;
    assert!(matches!(result, Err(StartRegistrationError::Unexpected(_))));
}

#[tokio::test]
async fn a_failing_directory_fails_linking() {
    let mut directory = MockAccountDirectory::new();
    directory
        .expect_find_by_payment_code()
        .returning(|_| Err(fail()));
    let (_, service, auth) = signed_in_with(|p| p.directory = Arc::new(directory)).await;
    let result = service
        .link_by_payment_code(&auth, &"code".into(), &web())
        .await;
    assert!(matches!(result, Err(LinkAccountError::Unexpected(_))));
}

#[tokio::test]
async fn an_unknown_login_still_costs_one_hash_verification() {
    let world = World::new();
    let mut ports = world.ports();
    let mut hasher = MockPasswordHasher::new();
    // The dummy hash is made once, then verified against exactly once per unknown login.
    hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(crate::password::PasswordHash::from_phc("$dummy$")));
    hasher.expect_verify().times(2).returning(|_, hash| {
        assert_eq!(hash.as_phc(), "$dummy$");
        Ok(true)
    });
    ports.hasher = Arc::new(hasher);
    let service = IdentityService::new(ports, SecurityPolicy::default());
    for _ in 0..2 {
        // Even a "matching" dummy hash never logs anyone in.
        assert!(matches!(
            login(&service, LoginHandle::Phone(phone(4)), "anything").await,
            Err(LoginError::InvalidCredentials)
        ));
    }
}

#[tokio::test]
async fn a_failing_hasher_at_warm_up_is_reported() {
    let world = World::new();
    let mut ports = world.ports();
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().returning(|_| Err(fail()));
    ports.hasher = Arc::new(hasher);
    let service = IdentityService::new(ports, SecurityPolicy::default());
    assert!(service.warm_up().await.is_err());
}

/// A session store holding one session of `cabinet` for `token`, opened an hour before
/// `now` and last seen `idle_for` before it; activity writes are left to the caller to expect.
fn one_session(
    cabinet: &crate::model::Subscriber,
    token: &str,
    now: time::OffsetDateTime,
    idle_for: time::Duration,
) -> MockSessionRepository {
    session_joined_to(cabinet.id, Some(cabinet.clone()), token, now, idle_for)
}

/// As [`one_session`], for a session of `owner` that the store answers joined to `joined`.
fn session_joined_to(
    owner: SubscriberId,
    joined: Option<crate::model::Subscriber>,
    token: &str,
    now: time::OffsetDateTime,
    idle_for: time::Duration,
) -> MockSessionRepository {
    let record = crate::model::SessionRecord {
        id: SessionId::from_bytes([5; 16]),
        subscriber: owner,
        token_digest: crate::crypto::SecretDigest::of_token(token),
        created_at: now - time::Duration::HOUR,
        last_seen_at: now - idle_for,
        revoked_at: None,
        client: web(),
    };
    let mut sessions = MockSessionRepository::new();
    sessions
        .expect_find_with_subscriber()
        .returning(move |_| Ok(Some((record.clone(), joined.clone()))));
    sessions
}

#[tokio::test]
async fn a_session_without_its_own_cabinet_is_refused() {
    let world = World::new();
    let id = register(&world, &world.service(), &phone(1), &email("ivan")).await;
    let other = register(&world, &world.service(), &phone(2), &email("petr")).await;
    let now = world.with(|s| s.now.unwrap());
    let stranger = world.with(|s| s.subscribers[&other].clone());
    // A store that joined the wrong cabinet, or none (the cabinet is gone).
    for joined in [Some(stranger), None] {
        let sessions = session_joined_to(id, joined, "token", now, time::Duration::ZERO);
        let mut ports = world.ports();
        ports.sessions = Arc::new(sessions);
        let service = IdentityService::new(ports, SecurityPolicy::default());
        assert!(matches!(
            service.authenticate(&"token".into()).await,
            Err(AuthenticateError::InvalidSession)
        ));
    }
}

#[tokio::test]
async fn authentication_writes_activity_only_once_the_touch_interval_has_passed() {
    let world = World::new();
    let id = register(&world, &world.service(), &phone(1), &email("ivan")).await;
    let now = world.with(|s| s.now.unwrap());
    let authenticate = |idle_for, touches| {
        let cabinet = world.with(|s| s.subscribers[&id].clone());
        let mut sessions = one_session(&cabinet, "token", now, idle_for);
        sessions
            .expect_touch()
            .times(touches)
            .returning(move |session, at| {
                assert_eq!((session, at), (SessionId::from_bytes([5; 16]), now));
                Ok(())
            });
        let mut ports = world.ports();
        ports.sessions = Arc::new(sessions);
        async move {
            IdentityService::new(ports, SecurityPolicy::default())
                .authenticate(&"token".into())
                .await
        }
    };
    for (idle_for, touches) in [
        (time::Duration::ZERO, 0),
        (time::Duration::seconds(59), 0),
        (time::Duration::seconds(60), 1),
        (time::Duration::minutes(29), 1),
    ] {
        let auth = authenticate(idle_for, touches).await.unwrap();
        assert_eq!(auth.subscriber(), id);
    }
    // An idle-expired session is refused and not written.
    assert!(matches!(
        authenticate(time::Duration::minutes(30), 0).await,
        Err(AuthenticateError::InvalidSession)
    ));
}

#[tokio::test]
async fn a_failing_activity_write_fails_authentication() {
    let world = World::new();
    let id = register(&world, &world.service(), &phone(1), &email("ivan")).await;
    let now = world.with(|s| s.now.unwrap());
    let cabinet = world.with(|s| s.subscribers[&id].clone());
    let mut sessions = one_session(&cabinet, "token", now, time::Duration::minutes(5));
    sessions.expect_touch().returning(|_, _| Err(fail()));
    let mut ports = world.ports();
    ports.sessions = Arc::new(sessions);
    let service = IdentityService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        service.authenticate(&"token".into()).await,
        Err(AuthenticateError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_subscriber_store_fails_profile_lookup_and_unblocking() {
    let mut subscribers = MockSubscriberRepository::new();
    subscribers.expect_get().returning(|_| Err(fail()));
    subscribers
        .expect_find_by_handle()
        .returning(|_| Err(fail()));
    let (_, service, auth) = signed_in_with(|p| p.subscribers = Arc::new(subscribers)).await;
    assert!(matches!(
        service.profile(&auth).await,
        Err(ProfileError::Unexpected(_))
    ));
    assert!(matches!(
        service.find_cabinet(&LoginHandle::Phone(phone(1))).await,
        Err(LookupError::Unexpected(_))
    ));
    assert!(matches!(
        service
            .unblock_cabinet_by_operator(auth.subscriber(), "op", &web())
            .await,
        Err(UnblockCabinetError::Unexpected(_))
    ));
}

#[tokio::test]
async fn an_unblock_that_cannot_be_logged_is_reported() {
    let mut log = MockSecurityLog::new();
    log.expect_append().returning(|_| Err(fail()));
    let (world, service, auth) = signed_in_with(|p| p.security_log = Arc::new(log)).await;
    world.with(|s| {
        for x in s.subscribers.values_mut() {
            x.status = crate::model::CabinetStatus::Blocked {
                at: super::testkit::T0,
                by: crate::model::BlockedBy::Subscriber,
            };
        }
    });
    assert!(matches!(
        service
            .unblock_cabinet_by_operator(auth.subscriber(), "op", &web())
            .await,
        Err(UnblockCabinetError::Unexpected(_))
    ));
}

#[tokio::test]
async fn admitting_a_client_takes_one_reservation_under_its_actions_limit() {
    let world = World::new();
    for action in crate::model::ClientAction::ALL {
        let mut throttle = MockThrottleRepository::new();
        throttle
            .expect_reserve()
            .times(1)
            .returning(move |key, limit, _| {
                assert_eq!(
                    *key,
                    crate::model::ThrottleKey::client_address(action, "198.51.100.4")
                );
                assert_eq!(limit, SecurityPolicy::default().per_address.limit(action));
                Ok(crate::model::Reservation::Refused {
                    retry_after: time::Duration::seconds(7),
                })
            });
        // Every admitted request counts: nothing is ever given back or cleared.
        throttle.expect_release().times(0);
        throttle.expect_clear().times(0);
        let mut ports = world.ports();
        ports.throttle = Arc::new(throttle);
        let service = IdentityService::new(ports, SecurityPolicy::default());
        assert!(matches!(
            service.admit_client("198.51.100.4", action).await,
            Err(Throttled::TooManyRequests { retry_after }) if retry_after == time::Duration::seconds(7)
        ));
    }
}

#[tokio::test]
async fn a_failing_throttle_store_refuses_the_client() {
    let mut throttle = MockThrottleRepository::new();
    throttle.expect_reserve().returning(|_, _, _| Err(fail()));
    let (_, service, _) = signed_in_with(|p| p.throttle = Arc::new(throttle)).await;
    // Fails closed: no request without the throttle check.
    assert!(matches!(
        service
            .admit_client("198.51.100.4", crate::model::ClientAction::Login)
            .await,
        Err(Throttled::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_session_read_by_an_adapter_is_judged_as_authenticate_judges_it() {
    use crate::crypto::SecretDigest;
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    register(&world, &service, &phone(2), &email("petr")).await;
    let mine = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let theirs = login(&service, LoginHandle::Phone(phone(2)), PASSWORD)
        .await
        .unwrap();
    let sessions = world.ports().sessions;
    let digest = SecretDigest::of_token(mine.token.expose());
    let found = sessions.find_with_subscriber(&digest).await.unwrap();
    assert_eq!(
        service.admit(&digest, found.clone()).await.unwrap(),
        service.authenticate(&mine.token).await.unwrap()
    );
    // Nothing found, another token's session, or the session with another cabinet: refused.
    let other = SecretDigest::of_token(theirs.token.expose());
    let their_found = sessions.find_with_subscriber(&other).await.unwrap();
    let (record, _) = found.clone().unwrap();
    let (_, their_cabinet) = their_found.clone().unwrap();
    for wrong in [None, their_found, Some((record, their_cabinet))] {
        assert!(matches!(
            service.admit(&digest, wrong).await,
            Err(AuthenticateError::InvalidSession)
        ));
    }
    // After logout the same read is refused too.
    let auth = service.authenticate(&mine.token).await.unwrap();
    service.logout(&auth, &web()).await.unwrap();
    let found = sessions.find_with_subscriber(&digest).await.unwrap();
    assert!(matches!(
        service.admit(&digest, found).await,
        Err(AuthenticateError::InvalidSession)
    ));
}
