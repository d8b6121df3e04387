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
    sessions.expect_find_by_token().returning(|_| Err(fail()));
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
