//! Flow tests over the in-memory world: each use case end to end, as a subscriber lives it.

use time::Duration;

use super::testkit::{T0, World};
use super::*;
use crate::domain::*;
use crate::model::*;
use crate::password::PasswordRejected;

pub(crate) const PASSWORD: &str = "тёплый ветер над Волгой";
pub(crate) const NEW_PASSWORD: &str = "correct horse battery staple";

pub(crate) fn web() -> ClientInfo {
    ClientInfo::new(Channel::Web)
}

pub(crate) fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+7916{n:07}")).unwrap()
}

pub(crate) fn email(name: &str) -> Email {
    Email::parse(&format!("{name}@mail.ru")).unwrap()
}

pub(crate) fn consent() -> ConsentDocument {
    ConsentDocument::new("2025-01", "Я согласен на обработку персональных данных")
}

pub(crate) fn phone_registration(phone: &Phone, email: &Email) -> PhoneRegistration {
    PhoneRegistration {
        name: PersonName::parse("Иванов Иван Иванович").unwrap(),
        phone: phone.clone(),
        email: email.clone(),
        password: PASSWORD.into(),
        password_repeat: PASSWORD.into(),
        captcha: "ok".into(),
        consent: consent(),
        client: web(),
    }
}

/// Registers by phone and email, confirms both; returns the new cabinet.
pub(crate) async fn register(
    world: &World,
    service: &IdentityService,
    phone: &Phone,
    email: &Email,
) -> SubscriberId {
    let challenge = service
        .start_registration_by_phone(phone_registration(phone, email))
        .await
        .unwrap();
    let code = world.last_code(phone).unwrap();
    let id = service
        .confirm_registration(challenge, &code)
        .await
        .unwrap();
    let token = world.last_link(email).unwrap();
    service.confirm_email(&token, &web()).await.unwrap();
    // Past the resend cooldown, so the next message to these contacts is not throttled.
    world.advance(Duration::seconds(61));
    id
}

pub(crate) async fn login(
    service: &IdentityService,
    handle: LoginHandle,
    password: &str,
) -> Result<NewSession, LoginError> {
    service
        .login(LoginRequest {
            handle,
            password: password.into(),
            client: web(),
        })
        .await
}

pub(crate) fn supplier() -> SupplierId {
    SupplierId::parse("globus").unwrap()
}

pub(crate) fn account(number: &str) -> AccountRef {
    AccountRef {
        supplier: supplier(),
        number: AccountNumber::parse(number).unwrap(),
    }
}

pub(crate) fn facts(number: &str, holder: &str, code: &str) -> AccountFacts {
    AccountFacts {
        account: account(number),
        holder: PersonName::parse(holder).unwrap(),
        address: Address {
            house: HouseId::parse("ул. Ленина, 1").unwrap(),
            flat: Some(Flat::parse("12А").unwrap()),
        },
        meters: vec![MeterNumber::parse("M-0042").unwrap()],
        payment_code: Some(code.into()),
    }
}

pub(crate) fn account_registration(
    number: &str,
    name: &str,
    meter: Option<&str>,
    phone: &Phone,
) -> AccountRegistration {
    AccountRegistration {
        account: account(number),
        name: PersonName::parse(name).unwrap(),
        meter: meter.map(|m| MeterNumber::parse(m).unwrap()),
        phone: phone.clone(),
        email: None,
        captcha: "ok".into(),
        consent: consent(),
        client: web(),
    }
}

#[tokio::test]
async fn registration_by_phone_and_email_creates_a_cabinet_with_consent() {
    let world = World::new();
    let service = world.service();
    let id = register(&world, &service, &phone(1), &email("ivan")).await;

    let record = world.with(|s| s.subscribers[&id].clone());
    assert_eq!(record.phone, Some(phone(1)));
    assert_eq!(record.email, Some(email("ivan")));
    assert_eq!(world.with(|s| s.consents.len()), 1);
    let consent = world.with(|s| s.consents[0].clone());
    assert_eq!(consent.document.version(), "2025-01");
    assert_eq!(consent.document.text_sha256().len(), 64);
    assert_eq!(consent.given_at, T0);
    assert_eq!(consent.client.channel, Channel::Web);

    assert!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
            .await
            .is_ok()
    );
    assert!(
        login(&service, LoginHandle::Email(email("ivan")), PASSWORD)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn registration_refuses_bad_captcha_and_weak_passwords() {
    let world = World::new();
    let service = world.service();
    world.with(|s| s.captcha_ok = false);
    let err = service
        .start_registration_by_phone(phone_registration(&phone(1), &email("a")))
        .await
        .unwrap_err();
    assert!(matches!(err, StartRegistrationError::CaptchaFailed));
    world.with(|s| s.captcha_ok = true);
    let mut request = phone_registration(&phone(1), &email("a"));
    request.password = "qwerty123".into();
    request.password_repeat = "qwerty123".into();
    let err = service
        .start_registration_by_phone(request)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StartRegistrationError::Password(PasswordRejected::TooWeak)
    ));
    assert_eq!(err.user_message(), PasswordRejected::TooWeak.user_message());
    assert!(world.with(|s| s.sms.is_empty()));
}

#[tokio::test]
async fn registering_a_taken_phone_looks_the_same_but_creates_nothing() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let sms_before = world.with(|s| s.sms.len());

    let challenge = service
        .start_registration_by_phone(phone_registration(&phone(1), &email("other")))
        .await
        .unwrap();
    let (to, message) = world.with(|s| s.sms.last().cloned().unwrap());
    assert_eq!(world.with(|s| s.sms.len()), sms_before + 1);
    assert_eq!(to, phone(1));
    assert!(matches!(message, Message::AlreadyRegistered));
    // The decoy behaves like a real challenge: wrong codes count, then it dies.
    for _ in 0..4 {
        assert!(matches!(
            service
                .confirm_registration(challenge, &"000000".into())
                .await,
            Err(ConfirmRegistrationError::Code(CodeRejected::Invalid))
        ));
    }
    assert!(matches!(
        service
            .confirm_registration(challenge, &"000000".into())
            .await,
        Err(ConfirmRegistrationError::Code(
            CodeRejected::TooManyAttempts
        ))
    ));
    assert_eq!(world.with(|s| s.subscribers.len()), 1);
}

#[tokio::test]
async fn a_taken_email_gets_a_notice_instead_of_a_link() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let challenge = service
        .start_registration_by_phone(phone_registration(&phone(2), &email("ivan")))
        .await
        .unwrap();
    let code = world.last_code(&phone(2)).unwrap();
    let second = service
        .confirm_registration(challenge, &code)
        .await
        .unwrap();
    let (_, last_email) = world.with(|s| s.emails.last().cloned().unwrap());
    assert!(matches!(last_email, Message::AlreadyRegistered));
    assert_eq!(world.with(|s| s.subscribers[&second].email.clone()), None);
}

#[tokio::test]
async fn resending_a_code_waits_sixty_seconds_and_stops_at_five_an_hour() {
    let world = World::new();
    let service = world.service();
    let challenge = service
        .start_registration_by_phone(phone_registration(&phone(1), &email("a")))
        .await
        .unwrap();
    let first = world.last_code(&phone(1)).unwrap();
    assert!(
        matches!(service.resend_code(challenge).await, Err(ResendCodeError::TooManyCodes { retry_after }) if retry_after == Duration::seconds(60))
    );
    for _ in 0..4 {
        world.advance(Duration::seconds(61));
        service.resend_code(challenge).await.unwrap();
    }
    world.advance(Duration::seconds(61));
    assert!(matches!(
        service.resend_code(challenge).await,
        Err(ResendCodeError::TooManyCodes { .. })
    ));
    // The old code no longer works; the newest does.
    let newest = world.last_code(&phone(1)).unwrap();
    if first.expose() != newest.expose() {
        assert!(
            service
                .confirm_registration(challenge, &first)
                .await
                .is_err()
        );
    }
    assert!(
        service
            .confirm_registration(challenge, &newest)
            .await
            .is_ok()
    );
    assert!(matches!(
        service.resend_code(challenge).await,
        Err(ResendCodeError::NotFound)
    ));
}

#[tokio::test]
async fn registration_by_account_proves_the_holder_by_name_or_meter() {
    let world = World::new();
    let service = world.service();
    world.with(|s| {
        s.directory
            .push(facts("1234567890123", "Петров Пётр Петрович", "AbC-123"))
    });

    // Unknown ЛС and wrong name: the same answer.
    let unknown = service
        .start_registration_by_account(account_registration("999", "Петров П.П.", None, &phone(1)))
        .await;
    let wrong_name = service
        .start_registration_by_account(account_registration(
            "1234567890123",
            "Сидоров С.С.",
            None,
            &phone(1),
        ))
        .await;
    assert!(matches!(
        unknown,
        Err(StartAccountRegistrationError::NotConfirmed)
    ));
    assert!(matches!(
        wrong_name,
        Err(StartAccountRegistrationError::NotConfirmed)
    ));

    // The meter number is the fallback proof.
    let challenge = service
        .start_registration_by_account(account_registration(
            "1234567890123",
            "Сидоров С.С.",
            Some("M-0042"),
            &phone(1),
        ))
        .await
        .unwrap();
    let code = world.last_code(&phone(1)).unwrap();
    // The password cannot contain the ЛС number; a refused password keeps the code usable.
    let bad = format!("{} correct horse", "1234567890123");
    assert!(matches!(
        service
            .complete_registration_by_account(challenge, &code, &bad.clone().into(), &bad.into())
            .await,
        Err(ConfirmRegistrationError::Password(
            PasswordRejected::ContainsLogin
        ))
    ));
    // confirm_registration (the phone flow) cannot finish an ЛС registration.
    assert!(
        service
            .confirm_registration(challenge, &code)
            .await
            .is_err()
    );
    let id = service
        .complete_registration_by_account(challenge, &code, &PASSWORD.into(), &PASSWORD.into())
        .await
        .unwrap();
    let links = world.with(|s| s.links[&id].clone());
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].proof, LinkProof::MeterNumber);
    assert!(links[0].active);
    assert!(
        login(
            &service,
            LoginHandle::Account(AccountNumber::parse("1234567890123").unwrap()),
            PASSWORD
        )
        .await
        .is_ok()
    );

    // A second registration of the same ЛС: a notice to the owner, and a (decoy) code to the
    // new phone that can never create a second cabinet.
    let sms_before = world.with(|s| s.sms.len());
    let again = service
        .start_registration_by_account(account_registration(
            "1234567890123",
            "Петров П.П.",
            None,
            &phone(2),
        ))
        .await
        .unwrap();
    let sent: Vec<(Phone, Message)> = world.with(|s| s.sms[sms_before..].to_vec());
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, phone(2));
    assert!(matches!(
        sent[0].1,
        Message::Code {
            purpose: Purpose::Registration,
            ..
        }
    ));
    assert_eq!(sent[1].0, phone(1));
    assert!(matches!(sent[1].1, Message::AlreadyRegistered));
    let decoy_code = world.last_code(&phone(2)).unwrap();
    assert!(matches!(
        service
            .complete_registration_by_account(
                again,
                &decoy_code,
                &PASSWORD.into(),
                &PASSWORD.into()
            )
            .await,
        Err(ConfirmRegistrationError::AlreadyRegistered)
    ));
    assert_eq!(world.with(|s| s.subscribers.len()), 1);

    // Repeated attempts cannot flood the owner: at most three notices an hour.
    for n in 4..10 {
        service
            .start_registration_by_account(account_registration(
                "1234567890123",
                "Петров П.П.",
                None,
                &phone(n),
            ))
            .await
            .unwrap();
    }
    let notices = world.with(|s| {
        s.sms
            .iter()
            .filter(|(to, m)| *to == phone(1) && matches!(m, Message::AlreadyRegistered))
            .count()
    });
    assert_eq!(notices, 3);
}

/// What a requester of a registration by ЛС can observe: the answers they get and every
/// message sent to the phone and email they gave (secrets redacted, so only the shape).
struct Observed {
    answers: Vec<String>,
    outbox: Vec<String>,
}

/// Registers ЛС 222… with phone 2 and an email, enters a wrong code, asks for the code again
/// and tries a weak password with the code received. Beforehand another cabinet (phone 3)
/// registered ЛС 222… itself when `taken`, or a different ЛС otherwise.
async fn register_account_as_requester(taken: bool) -> (World, Observed, ChallengeId) {
    let world = World::new();
    let service = world.service();
    world.with(|s| {
        s.directory
            .push(facts("1111111111111", "Петров Пётр Петрович", "a"));
        s.directory
            .push(facts("2222222222222", "Петров Пётр Петрович", "b"));
    });
    let owned = if taken {
        "2222222222222"
    } else {
        "1111111111111"
    };
    let challenge = service
        .start_registration_by_account(account_registration(owned, "Петров П.П.", None, &phone(3)))
        .await
        .unwrap();
    let code = world.last_code(&phone(3)).unwrap();
    service
        .complete_registration_by_account(challenge, &code, &PASSWORD.into(), &PASSWORD.into())
        .await
        .unwrap();
    world.advance(Duration::seconds(61));

    let mut answers = Vec::new();
    let mut request = account_registration("2222222222222", "Петров П.П.", None, &phone(2));
    request.email = Some(email("requester"));
    let started = service.start_registration_by_account(request).await;
    answers.push(format!("{:?}", started.as_ref().map(|_| "challenge")));
    let challenge = started.unwrap();
    let wrong = service
        .complete_registration_by_account(
            challenge,
            &"000000".into(),
            &PASSWORD.into(),
            &PASSWORD.into(),
        )
        .await;
    answers.push(format!("{wrong:?}"));
    world.advance(Duration::seconds(61));
    answers.push(format!("{:?}", service.resend_code(challenge).await));
    let code = world.last_code(&phone(2)).unwrap();
    assert!(code.expose().len() == 6 && code.expose().chars().all(|c| c.is_ascii_digit()));
    let weak = service
        .complete_registration_by_account(challenge, &code, &"qwerty12".into(), &"qwerty12".into())
        .await;
    answers.push(format!("{weak:?}"));
    let outbox = world.with(|s| {
        let texts = s.sms.iter().filter(|(to, _)| *to == phone(2));
        let letters = s.emails.iter().filter(|(to, _)| *to == email("requester"));
        texts
            .map(|(_, m)| format!("sms {m:?}"))
            .chain(letters.map(|(_, m)| format!("email {m:?}")))
            .collect()
    });
    (world, Observed { answers, outbox }, challenge)
}

const CODE_SHAPE: &str = "sms Code { code: Secret([REDACTED]), purpose: Registration, \
    valid_for: SignedDuration { seconds: 600, nanoseconds: 0 } }";

#[tokio::test]
async fn registering_an_account_that_has_a_cabinet_looks_like_a_new_registration() {
    let (fresh_world, fresh, fresh_challenge) = register_account_as_requester(false).await;
    let (taken_world, taken, taken_challenge) = register_account_as_requester(true).await;
    // Everything the requester sees up to the last step is the same: the answers and the
    // messages to their phone and email (a real-looking code, resendable, checked and counted
    // like any other).
    assert_eq!(fresh.answers, taken.answers);
    assert_eq!(
        fresh.answers,
        [
            r#"Ok("challenge")"#,
            "Err(Code(Invalid))",
            "Ok(())",
            "Err(Password(TooWeak))"
        ]
    );
    assert_eq!(fresh.outbox, taken.outbox);
    assert_eq!(fresh.outbox, [CODE_SHAPE, CODE_SHAPE]);
    // The owner of the taken ЛС was told; nobody was told in the fresh case.
    let notices = |world: &World| {
        world.with(|s| {
            s.sms
                .iter()
                .filter(|(to, m)| *to == phone(3) && matches!(m, Message::AlreadyRegistered))
                .count()
        })
    };
    assert_eq!((notices(&fresh_world), notices(&taken_world)), (0, 1));
    // The code can never create a second cabinet of the ЛС: completing ends as a new
    // registration ends when its ЛС was taken meanwhile.
    let finish = |world: World, challenge| async move {
        let code = world.last_code(&phone(2)).unwrap();
        let result = world
            .service()
            .complete_registration_by_account(challenge, &code, &PASSWORD.into(), &PASSWORD.into())
            .await;
        (result, world.with(|s| s.subscribers.len()))
    };
    let (result, cabinets) = finish(fresh_world, fresh_challenge).await;
    assert!(result.is_ok());
    assert_eq!(cabinets, 2);
    let (result, cabinets) = finish(taken_world, taken_challenge).await;
    assert!(matches!(
        result,
        Err(ConfirmRegistrationError::AlreadyRegistered)
    ));
    assert_eq!(cabinets, 1);
}

#[tokio::test]
async fn registration_proofs_are_throttled_per_account() {
    let world = World::new();
    let service = world.service();
    world.with(|s| s.directory.push(facts("555", "Петров Пётр Петрович", "x")));
    for _ in 0..3 {
        let r = service
            .start_registration_by_account(account_registration(
                "555",
                "Сидоров С.С.",
                None,
                &phone(1),
            ))
            .await;
        assert!(matches!(
            r,
            Err(StartAccountRegistrationError::NotConfirmed)
        ));
    }
    let r = service
        .start_registration_by_account(account_registration("555", "Петров П.П.", None, &phone(1)))
        .await;
    assert!(matches!(
        r,
        Err(StartAccountRegistrationError::TooManyAttempts { .. })
    ));
}

#[tokio::test]
async fn unknown_login_and_wrong_password_give_the_same_error() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let unknown = login(&service, LoginHandle::Phone(phone(9)), PASSWORD)
        .await
        .unwrap_err();
    let wrong = login(&service, LoginHandle::Phone(phone(1)), "wrong password")
        .await
        .unwrap_err();
    assert!(matches!(unknown, LoginError::InvalidCredentials));
    assert!(matches!(wrong, LoginError::InvalidCredentials));
    assert_eq!(unknown.to_string(), wrong.to_string());
    assert_eq!(unknown.user_message(), wrong.user_message());
}

#[tokio::test]
async fn failed_logins_slow_down_after_five_and_a_success_resets() {
    let world = World::new();
    let service = world.service();
    let id = register(&world, &service, &phone(1), &email("ivan")).await;
    for _ in 0..5 {
        assert!(matches!(
            login(&service, LoginHandle::Phone(phone(1)), "wrong").await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    // Sixth attempt within the same second: throttled, even with the right password, and
    // through any handle of the same cabinet.
    let throttled = login(&service, LoginHandle::Email(email("ivan")), PASSWORD).await;
    assert!(
        matches!(throttled, Err(LoginError::TooManyAttempts { retry_after }) if retry_after == Duration::SECOND)
    );
    world.advance(Duration::SECOND);
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
            .await
            .is_ok()
    );
    assert!(world.with(|s| !s.throttle.contains_key(&ThrottleKey::login_subscriber(id))));
    let failures = world.with(|s| {
        s.log
            .iter()
            .filter(|e| e.kind == SecurityEventKind::SignInFailed)
            .count()
    });
    assert_eq!(failures, 5);
}

#[tokio::test]
async fn unknown_handles_are_throttled_like_known_ones() {
    let world = World::new();
    let service = world.service();
    for _ in 0..5 {
        assert!(matches!(
            login(&service, LoginHandle::Phone(phone(7)), "x").await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        login(&service, LoginHandle::Phone(phone(7)), "x").await,
        Err(LoginError::TooManyAttempts { .. })
    ));
}

#[tokio::test]
async fn sessions_expire_when_idle_and_absolutely() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let start = world.with(|s| s.now.unwrap());
    assert!(start > T0);
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    assert_eq!(session.expires_at, start + Duration::hours(12));
    assert!(service.authenticate(&session.token).await.is_ok());
    world.advance(Duration::minutes(29));
    assert!(service.authenticate(&session.token).await.is_ok());
    world.advance(Duration::minutes(30));
    assert!(matches!(
        service.authenticate(&session.token).await,
        Err(AuthenticateError::InvalidSession)
    ));

    // Absolute: active every 20 minutes, still ends at 12 hours.
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    for _ in 0..35 {
        world.advance(Duration::minutes(20));
        assert!(service.authenticate(&session.token).await.is_ok());
    }
    world.advance(Duration::minutes(20));
    assert!(service.authenticate(&session.token).await.is_err());
    assert!(service.authenticate(&"not a token".into()).await.is_err());
}

#[tokio::test]
async fn sessions_can_be_listed_revoked_and_ended_everywhere() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let first = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let second = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    assert_ne!(first.token.expose(), second.token.expose());
    let auth = service.authenticate(&first.token).await.unwrap();
    let sessions = service.list_sessions(&auth).await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);

    service
        .revoke_session(&auth, second.session, &web())
        .await
        .unwrap();
    assert!(service.authenticate(&second.token).await.is_err());
    assert!(matches!(
        service.revoke_session(&auth, second.session, &web()).await,
        Err(RevokeSessionError::NotFound)
    ));

    let third = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    assert_eq!(service.logout_everywhere(&auth, &web()).await.unwrap(), 2);
    assert!(service.authenticate(&first.token).await.is_err());
    assert!(service.authenticate(&third.token).await.is_err());

    let fourth = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let auth = service.authenticate(&fourth.token).await.unwrap();
    service.logout(&auth, &web()).await.unwrap();
    assert!(service.authenticate(&fourth.token).await.is_err());
}

#[tokio::test]
async fn recovery_by_email_link_is_single_use_and_ends_sessions() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();

    // Unknown address: same answer, nothing sent.
    let emails_before = world.with(|s| s.emails.len());
    let unknown = service
        .start_recovery(RecoveryRequest {
            target: RecoveryTarget::Email(email("nobody")),
            captcha: "ok".into(),
        })
        .await
        .unwrap();
    assert_eq!(unknown, None);
    assert_eq!(world.with(|s| s.emails.len()), emails_before);

    let known = service
        .start_recovery(RecoveryRequest {
            target: RecoveryTarget::Email(email("ivan")),
            captcha: "ok".into(),
        })
        .await
        .unwrap();
    assert_eq!(known, None);
    let token = world.last_link(&email("ivan")).unwrap();
    let weak = service
        .complete_recovery_by_link(&token, &"password".into(), &"password".into(), &web())
        .await;
    assert!(matches!(weak, Err(CompleteRecoveryError::Password(_))));
    service
        .complete_recovery_by_link(&token, &NEW_PASSWORD.into(), &NEW_PASSWORD.into(), &web())
        .await
        .unwrap();
    assert!(matches!(
        service
            .complete_recovery_by_link(&token, &NEW_PASSWORD.into(), &NEW_PASSWORD.into(), &web())
            .await,
        Err(CompleteRecoveryError::Code(CodeRejected::Used))
    ));
    assert!(service.authenticate(&session.token).await.is_err());
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), NEW_PASSWORD)
            .await
            .is_ok()
    );
    assert!(world.with(|s| {
        s.sms
            .iter()
            .any(|(_, m)| matches!(m, Message::PasswordChanged))
    }));
}

#[tokio::test]
async fn a_successful_recovery_cancels_every_other_recovery_link_and_code() {
    let world = World::new();
    let service = world.service();
    let (_, auth) = signed_in(&world, &service).await;
    let recover = |target| RecoveryRequest {
        target,
        captcha: "ok".into(),
    };
    service
        .start_recovery(recover(RecoveryTarget::Email(email("ivan"))))
        .await
        .unwrap();
    let first_link = world.last_link(&email("ivan")).unwrap();
    let by_phone = service
        .start_recovery(recover(RecoveryTarget::Phone(phone(1))))
        .await
        .unwrap()
        .unwrap();
    let code = world.last_code(&phone(1)).unwrap();
    let phone_change = service
        .request_phone_change(&auth, &phone(5))
        .await
        .unwrap();
    world.advance(Duration::seconds(61));
    service
        .start_recovery(recover(RecoveryTarget::Email(email("ivan"))))
        .await
        .unwrap();
    let second_link = world.last_link(&email("ivan")).unwrap();

    service
        .complete_recovery_by_link(
            &second_link,
            &NEW_PASSWORD.into(),
            &NEW_PASSWORD.into(),
            &web(),
        )
        .await
        .unwrap();
    // The earlier link and the SMS code are dead, though unused and not expired.
    assert!(matches!(
        service
            .complete_recovery_by_link(&first_link, &PASSWORD.into(), &PASSWORD.into(), &web())
            .await,
        Err(CompleteRecoveryError::Code(CodeRejected::Used))
    ));
    assert!(matches!(
        service
            .complete_recovery_by_code(by_phone, &code, &PASSWORD.into(), &PASSWORD.into(), &web())
            .await,
        Err(CompleteRecoveryError::Code(CodeRejected::Used))
    ));
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), NEW_PASSWORD)
            .await
            .is_ok()
    );
    // Challenges for other purposes are left alone.
    let pending = world.with(|s| {
        s.challenges
            .iter()
            .find(|c| c.id == phone_change)
            .unwrap()
            .consumed_at
    });
    assert_eq!(pending, None);
}

#[tokio::test]
async fn recovery_links_expire_after_an_hour() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    service
        .start_recovery(RecoveryRequest {
            target: RecoveryTarget::Email(email("ivan")),
            captcha: "ok".into(),
        })
        .await
        .unwrap();
    let token = world.last_link(&email("ivan")).unwrap();
    world.advance(Duration::HOUR);
    assert!(matches!(
        service
            .complete_recovery_by_link(&token, &NEW_PASSWORD.into(), &NEW_PASSWORD.into(), &web())
            .await,
        Err(CompleteRecoveryError::Code(CodeRejected::Expired))
    ));
}

#[tokio::test]
async fn recovery_by_sms_code_and_unknown_phones_get_a_decoy() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let sms_before = world.with(|s| s.sms.len());
    let decoy = service
        .start_recovery(RecoveryRequest {
            target: RecoveryTarget::Phone(phone(5)),
            captcha: "ok".into(),
        })
        .await
        .unwrap();
    assert!(decoy.is_some());
    assert_eq!(world.with(|s| s.sms.len()), sms_before);

    let challenge = service
        .start_recovery(RecoveryRequest {
            target: RecoveryTarget::Phone(phone(1)),
            captcha: "ok".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let code = world.last_code(&phone(1)).unwrap();
    service
        .complete_recovery_by_code(
            challenge,
            &code,
            &NEW_PASSWORD.into(),
            &NEW_PASSWORD.into(),
            &web(),
        )
        .await
        .unwrap();
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), NEW_PASSWORD)
            .await
            .is_ok()
    );
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn blocking_ends_sessions_and_only_recovery_unblocks() {
    let world = World::new();
    let service = world.service();
    let id = register(&world, &service, &phone(1), &email("ivan")).await;
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let other = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let auth = service.authenticate(&session.token).await.unwrap();
    service.block_cabinet(&auth, &web()).await.unwrap();
    assert!(service.authenticate(&session.token).await.is_err());
    assert!(service.authenticate(&other.token).await.is_err());
    assert!(matches!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD).await,
        Err(LoginError::Blocked)
    ));
    // A wrong password on a blocked cabinet still says only "invalid".
    assert!(matches!(
        login(&service, LoginHandle::Phone(phone(1)), "nope").await,
        Err(LoginError::InvalidCredentials)
    ));

    let challenge = service
        .start_recovery(RecoveryRequest {
            target: RecoveryTarget::Phone(phone(1)),
            captcha: "ok".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let code = world.last_code(&phone(1)).unwrap();
    world.advance(Duration::seconds(2));
    service
        .complete_recovery_by_code(
            challenge,
            &code,
            &NEW_PASSWORD.into(),
            &NEW_PASSWORD.into(),
            &web(),
        )
        .await
        .unwrap();
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), NEW_PASSWORD)
            .await
            .is_ok()
    );

    // An operator can block too.
    service
        .block_cabinet_by_operator(id, "operator-7", &ClientInfo::new(Channel::Operator))
        .await
        .unwrap();
    assert!(matches!(
        login(&service, LoginHandle::Phone(phone(1)), NEW_PASSWORD).await,
        Err(LoginError::Blocked)
    ));
    let blocked_by = world.with(|s| s.subscribers[&id].status.clone());
    assert!(matches!(
        blocked_by,
        CabinetStatus::Blocked {
            by: BlockedBy::Operator { .. },
            ..
        }
    ));
    assert!(matches!(
        service
            .block_cabinet_by_operator(SubscriberId::from_bytes([9; 16]), "op", &web())
            .await,
        Err(BlockCabinetError::NotFound)
    ));
}

pub(crate) async fn signed_in(
    world: &World,
    service: &IdentityService,
) -> (SubscriberId, Authenticated) {
    let id = register(world, service, &phone(1), &email("ivan")).await;
    let session = login(service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    (id, service.authenticate(&session.token).await.unwrap())
}

#[tokio::test]
async fn changing_the_password_needs_the_old_one_and_ends_other_sessions() {
    let world = World::new();
    let service = world.service();
    let (_, auth) = signed_in(&world, &service).await;
    let other = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let wrong = ChangePassword {
        old: "nope".into(),
        new: NEW_PASSWORD.into(),
        new_repeat: NEW_PASSWORD.into(),
    };
    assert!(matches!(
        service.change_password(&auth, wrong, &web()).await,
        Err(ChangePasswordError::WrongPassword)
    ));
    let mismatch = ChangePassword {
        old: PASSWORD.into(),
        new: NEW_PASSWORD.into(),
        new_repeat: "other".into(),
    };
    assert!(matches!(
        service.change_password(&auth, mismatch, &web()).await,
        Err(ChangePasswordError::Password(PasswordRejected::Mismatch))
    ));
    let good = ChangePassword {
        old: PASSWORD.into(),
        new: NEW_PASSWORD.into(),
        new_repeat: NEW_PASSWORD.into(),
    };
    service.change_password(&auth, good, &web()).await.unwrap();
    assert!(service.authenticate(&other.token).await.is_err());
    let current = world.with(|s| {
        s.sessions
            .iter()
            .find(|x| x.id == auth.session())
            .cloned()
            .unwrap()
    });
    assert!(current.revoked_at.is_none());
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), NEW_PASSWORD)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_new_email_takes_effect_only_after_its_link() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    assert!(matches!(
        service
            .request_email_change(&auth, &email("new"), &email("neww"))
            .await,
        Err(ChangeEmailError::Mismatch)
    ));
    assert!(matches!(
        service
            .request_email_change(&auth, &email("ivan"), &email("ivan"))
            .await,
        Err(ChangeEmailError::SameAsCurrent)
    ));
    service
        .request_email_change(&auth, &email("new"), &email("new"))
        .await
        .unwrap();
    assert_eq!(
        world.with(|s| s.subscribers[&id].email.clone()),
        Some(email("ivan"))
    );
    assert!(world.with(|s| {
        s.emails
            .iter()
            .any(|(to, m)| to == &email("ivan") && matches!(m, Message::EmailChangeRequested))
    }));
    let token = world.last_link(&email("new")).unwrap();
    service.confirm_email(&token, &web()).await.unwrap();
    assert_eq!(
        world.with(|s| s.subscribers[&id].email.clone()),
        Some(email("new"))
    );
    assert!(
        login(&service, LoginHandle::Email(email("new")), PASSWORD)
            .await
            .is_ok()
    );
    assert!(
        login(&service, LoginHandle::Email(email("ivan")), PASSWORD)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_new_phone_is_confirmed_by_a_code_sent_to_it() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    assert!(matches!(
        service.request_phone_change(&auth, &phone(1)).await,
        Err(ChangePhoneError::SameAsCurrent)
    ));
    let challenge = service
        .request_phone_change(&auth, &phone(2))
        .await
        .unwrap();
    let code = world.last_code(&phone(2)).unwrap();
    service
        .confirm_phone_change(&auth, challenge, &code, &web())
        .await
        .unwrap();
    assert_eq!(
        world.with(|s| s.subscribers[&id].phone.clone()),
        Some(phone(2))
    );
    assert!(world.with(|s| {
        s.sms
            .iter()
            .any(|(to, m)| to == &phone(1) && matches!(m, Message::PhoneChanged))
    }));
    assert!(
        service
            .confirm_phone_change(&auth, challenge, &code, &web())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn personal_data_consents_and_the_security_log() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    service
        .update_personal_data(&auth, PersonName::parse("Иванов И.И.").unwrap(), &web())
        .await
        .unwrap();
    assert_eq!(
        world.with(|s| s.subscribers[&id].name.as_str().to_owned()),
        "Иванов И.И."
    );

    let consents = service.list_consents(&auth).await.unwrap();
    assert_eq!(consents.len(), 1);
    service
        .withdraw_consent(&auth, consents[0].id, &web())
        .await
        .unwrap();
    assert!(matches!(
        service
            .withdraw_consent(&auth, consents[0].id, &web())
            .await,
        Err(WithdrawConsentError::NotFound)
    ));
    let renewed = service
        .give_consent(
            &auth,
            ConsentDocument::new("2025-06", "новый текст"),
            &web(),
        )
        .await
        .unwrap();
    let consents = service.list_consents(&auth).await.unwrap();
    assert!(consents[0].withdrawn_at.is_some());
    assert_eq!(consents[1].id, renewed);

    let log = service.security_log(&auth, 100).await.unwrap();
    let kinds: Vec<_> = log.iter().map(|e| e.kind.clone()).collect();
    assert!(matches!(kinds[0], SecurityEventKind::ConsentGiven { .. }));
    assert!(kinds.contains(&SecurityEventKind::Registered));
    assert!(kinds.contains(&SecurityEventKind::EmailChanged));
    assert!(kinds.contains(&SecurityEventKind::PersonalDataChanged));
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, SecurityEventKind::SignedIn { .. }))
    );
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, SecurityEventKind::ConsentWithdrawn { .. }))
    );
    assert_eq!(service.security_log(&auth, 2).await.unwrap().len(), 2);
}

#[tokio::test]
async fn linking_by_payment_code_is_case_sensitive() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    world.with(|s| s.directory.push(facts("111", "Петров П.П.", "AbC-123")));
    assert!(matches!(
        service
            .link_by_payment_code(&auth, &"abc-123".into(), &web())
            .await,
        Err(LinkAccountError::ProofRejected)
    ));
    let link = service
        .link_by_payment_code(&auth, &"AbC-123".into(), &web())
        .await
        .unwrap();
    assert_eq!(link.account, account("111"));
    assert_eq!(link.proof, LinkProof::PaymentDocumentCode);
    assert!(link.active, "the first ЛС becomes active");
    assert!(matches!(
        service
            .link_by_payment_code(&auth, &"AbC-123".into(), &web())
            .await,
        Err(LinkAccountError::AlreadyLinked)
    ));
    assert_eq!(world.with(|s| s.links[&id].len()), 1);
}

#[tokio::test]
async fn linking_by_address_and_switching_and_unlinking() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    world.with(|s| {
        s.directory.push(facts("111", "Петров П.П.", "a"));
        let mut other = facts("222", "Петров П.П.", "b");
        other.account.supplier = SupplierId::parse("vodokanal").unwrap();
        s.directory.push(other);
    });
    let address = Address {
        house: HouseId::parse("ул. Ленина, 1").unwrap(),
        flat: Some(Flat::parse("12а").unwrap()),
    };
    let wrong_flat = Address {
        flat: Some(Flat::parse("13").unwrap()),
        ..address.clone()
    };
    assert!(matches!(
        service
            .link_by_address(&auth, &account("111"), &wrong_flat, &web())
            .await,
        Err(LinkAccountError::ProofRejected)
    ));
    service
        .link_by_address(&auth, &account("111"), &address, &web())
        .await
        .unwrap();
    let water = AccountRef {
        supplier: SupplierId::parse("vodokanal").unwrap(),
        number: AccountNumber::parse("222").unwrap(),
    };
    let second = service
        .link_by_address(&auth, &water, &address, &web())
        .await
        .unwrap();
    assert!(!second.active);

    service
        .switch_active_account(&auth, &water, &web())
        .await
        .unwrap();
    let active: Vec<_> = world.with(|s| {
        s.links[&id]
            .iter()
            .filter(|l| l.active)
            .map(|l| l.account.clone())
            .collect()
    });
    assert_eq!(active, vec![water.clone()]);
    assert!(matches!(
        service
            .switch_active_account(&auth, &account("999"), &web())
            .await,
        Err(LinkedAccountError::NotLinked)
    ));

    service.unlink_account(&auth, &water, &web()).await.unwrap();
    let links = service.list_linked_accounts(&auth).await.unwrap();
    assert_eq!(links.len(), 1);
    assert!(links[0].active, "the remaining ЛС becomes active");
    assert!(matches!(
        service.unlink_account(&auth, &water, &web()).await,
        Err(LinkedAccountError::NotLinked)
    ));
}

#[tokio::test]
async fn linking_by_another_cabinets_password() {
    let world = World::new();
    let service = world.service();
    world.with(|s| {
        s.directory
            .push(facts("1234567890123", "Петров Пётр Петрович", "c"))
    });
    let challenge = service
        .start_registration_by_account(account_registration(
            "1234567890123",
            "Петров П.П.",
            None,
            &phone(3),
        ))
        .await
        .unwrap();
    let code = world.last_code(&phone(3)).unwrap();
    service
        .complete_registration_by_account(
            challenge,
            &code,
            &NEW_PASSWORD.into(),
            &NEW_PASSWORD.into(),
        )
        .await
        .unwrap();

    let (_, auth) = signed_in(&world, &service).await;
    let number = AccountNumber::parse("1234567890123").unwrap();
    assert!(matches!(
        service
            .link_by_cabinet_password(&auth, &number, &"wrong".into(), &web())
            .await,
        Err(LinkAccountError::ProofRejected)
    ));
    let unknown = AccountNumber::parse("77").unwrap();
    assert!(matches!(
        service
            .link_by_cabinet_password(&auth, &unknown, &NEW_PASSWORD.into(), &web())
            .await,
        Err(LinkAccountError::ProofRejected)
    ));
    world.advance(Duration::seconds(10));
    let link = service
        .link_by_cabinet_password(&auth, &number, &NEW_PASSWORD.into(), &web())
        .await
        .unwrap();
    assert_eq!(link.proof, LinkProof::CabinetPassword);
}

#[tokio::test]
async fn linking_proofs_are_throttled_per_subscriber() {
    let world = World::new();
    let service = world.service();
    let (_, auth) = signed_in(&world, &service).await;
    world.with(|s| s.directory.push(facts("111", "Петров П.П.", "right")));
    for guess in ["g1", "g2", "g3"] {
        assert!(matches!(
            service
                .link_by_payment_code(&auth, &guess.into(), &web())
                .await,
            Err(LinkAccountError::ProofRejected)
        ));
    }
    // Even the right code waits now.
    assert!(matches!(
        service
            .link_by_payment_code(&auth, &"right".into(), &web())
            .await,
        Err(LinkAccountError::TooManyAttempts { .. })
    ));
    let rejected = world.with(|s| {
        s.log
            .iter()
            .filter(|e| e.kind == SecurityEventKind::LinkProofRejected)
            .count()
    });
    assert_eq!(rejected, 3);
}

#[tokio::test]
async fn the_email_link_can_be_resent_under_the_same_limits() {
    let world = World::new();
    let service = world.service();
    // Use up the address's hourly allowance before registering, so the link is throttled.
    for _ in 0..5 {
        service
            .start_recovery(RecoveryRequest {
                target: RecoveryTarget::Email(email("late")),
                captcha: "ok".into(),
            })
            .await
            .unwrap();
        world.advance(Duration::seconds(61));
    }
    let challenge = service
        .start_registration_by_phone(phone_registration(&phone(5), &email("late")))
        .await
        .unwrap();
    let code = world.last_code(&phone(5)).unwrap();
    let id = service
        .confirm_registration(challenge, &code)
        .await
        .unwrap();
    assert!(world.last_link(&email("late")).is_none());
    let record = world.with(|s| s.subscribers[&id].clone());
    assert_eq!(record.pending_email, Some(email("late")));
    assert_eq!(record.email, None);

    let session = login(&service, LoginHandle::Phone(phone(5)), PASSWORD)
        .await
        .unwrap();
    let auth = service.authenticate(&session.token).await.unwrap();
    assert!(matches!(
        service.resend_email_confirmation(&auth).await,
        Err(ResendEmailError::TooManyMessages { .. })
    ));
    world.advance(Duration::minutes(60));
    service.resend_email_confirmation(&auth).await.unwrap();
    // The cooldown applies to resends as well.
    assert!(matches!(
        service.resend_email_confirmation(&auth).await,
        Err(ResendEmailError::TooManyMessages { retry_after }) if retry_after <= Duration::seconds(60)
    ));
    let token = world.last_link(&email("late")).unwrap();
    service.confirm_email(&token, &web()).await.unwrap();
    let record = world.with(|s| s.subscribers[&id].clone());
    assert_eq!(
        (record.email, record.pending_email),
        (Some(email("late")), None)
    );
    assert!(matches!(
        service.resend_email_confirmation(&auth).await,
        Err(ResendEmailError::NothingPending)
    ));
}

#[tokio::test]
async fn only_the_last_requested_email_can_be_confirmed() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    service
        .request_email_change(&auth, &email("first"), &email("first"))
        .await
        .unwrap();
    let stale = world.last_link(&email("first")).unwrap();
    service
        .request_email_change(&auth, &email("second"), &email("second"))
        .await
        .unwrap();
    assert!(matches!(
        service.confirm_email(&stale, &web()).await,
        Err(ConfirmEmailError::Link(CodeRejected::Invalid))
    ));
    assert_eq!(
        world.with(|s| s.subscribers[&id].email.clone()),
        Some(email("ivan"))
    );
    let fresh = world.last_link(&email("second")).unwrap();
    service.confirm_email(&fresh, &web()).await.unwrap();
    assert_eq!(
        world.with(|s| s.subscribers[&id].email.clone()),
        Some(email("second"))
    );
}

#[tokio::test]
async fn wrong_cabinet_passwords_in_linking_count_towards_that_cabinets_login_limit() {
    let world = World::new();
    let service = world.service();
    world.with(|s| {
        s.directory
            .push(facts("1234567890123", "Петров Пётр Петрович", "c"))
    });
    let challenge = service
        .start_registration_by_account(account_registration(
            "1234567890123",
            "Петров П.П.",
            None,
            &phone(3),
        ))
        .await
        .unwrap();
    let code = world.last_code(&phone(3)).unwrap();
    let other = service
        .complete_registration_by_account(
            challenge,
            &code,
            &NEW_PASSWORD.into(),
            &NEW_PASSWORD.into(),
        )
        .await
        .unwrap();
    let (_, auth) = signed_in(&world, &service).await;
    let number = AccountNumber::parse("1234567890123").unwrap();
    for _ in 0..2 {
        let _ = service
            .link_by_cabinet_password(&auth, &number, &"wrong guess".into(), &web())
            .await;
        world.advance(Duration::seconds(1));
    }
    let failures = world.with(|s| {
        s.throttle
            .get(&ThrottleKey::login_subscriber(other))
            .map_or(0, Vec::len)
    });
    assert_eq!(failures, 2);
}

#[tokio::test]
async fn reserved_attempts_that_turn_out_right_are_given_back() {
    let world = World::new();
    let service = world.service();
    world.with(|s| {
        s.directory
            .push(facts("1234567890123", "Петров Пётр Петрович", "c"))
    });
    let challenge = service
        .start_registration_by_account(account_registration(
            "1234567890123",
            "Петров П.П.",
            None,
            &phone(3),
        ))
        .await
        .unwrap();
    let code = world.last_code(&phone(3)).unwrap();
    let other = service
        .complete_registration_by_account(challenge, &code, &PASSWORD.into(), &PASSWORD.into())
        .await
        .unwrap();
    let (me, auth) = signed_in(&world, &service).await;
    let count = |key: ThrottleKey| world.with(|s| s.throttle.get(&key).map_or(0, Vec::len));
    // The holder proof was right: no registration-proof attempt stays counted.
    let number = AccountNumber::parse("1234567890123").unwrap();
    assert_eq!(count(ThrottleKey::registration_proof(&number)), 0);
    // Linking with the other cabinet's right password counts against neither limit.
    service
        .link_by_cabinet_password(&auth, &number, &PASSWORD.into(), &web())
        .await
        .unwrap();
    assert_eq!(count(ThrottleKey::login_subscriber(other)), 0);
    assert_eq!(count(ThrottleKey::link_proof(me)), 0);
    // A right current password in settings is no failed login.
    let request = ChangePassword {
        old: PASSWORD.into(),
        new: NEW_PASSWORD.into(),
        new_repeat: NEW_PASSWORD.into(),
    };
    service
        .change_password(&auth, request, &web())
        .await
        .unwrap();
    assert_eq!(count(ThrottleKey::login_subscriber(me)), 0);
    // The right password of a blocked cabinet says "blocked" and counts as no failure.
    service.block_cabinet(&auth, &web()).await.unwrap();
    assert!(matches!(
        login(&service, LoginHandle::Phone(phone(1)), NEW_PASSWORD).await,
        Err(LoginError::Blocked)
    ));
    assert_eq!(count(ThrottleKey::login_subscriber(me)), 0);
}

#[tokio::test]
async fn a_session_that_outlives_a_block_is_refused() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    service.block_cabinet(&auth, &web()).await.unwrap();
    // As if a login raced with the block: the session store still has a live session.
    world.with(|s| {
        s.sessions
            .iter_mut()
            .filter(|x| x.subscriber == id)
            .for_each(|x| x.revoked_at = None)
    });
    assert!(matches!(
        service.authenticate(&session.token).await,
        Err(AuthenticateError::InvalidSession)
    ));
}

#[tokio::test]
async fn the_profile_shows_the_cabinet_and_a_pending_email() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    let profile = service.profile(&auth).await.unwrap();
    assert_eq!(
        profile,
        Profile {
            id,
            name: PersonName::parse("Иванов Иван Иванович").unwrap(),
            account: None,
            phone: Some(phone(1)),
            email: Some(email("ivan")),
            pending_email: None,
            created_at: T0,
        }
    );
    service
        .request_email_change(&auth, &email("new"), &email("new"))
        .await
        .unwrap();
    let profile = service.profile(&auth).await.unwrap();
    assert_eq!(profile.email, Some(email("ivan")));
    assert_eq!(profile.pending_email, Some(email("new")));
    // A cabinet registered by ЛС shows its ЛС.
    world.with(|s| s.subscribers.get_mut(&id).unwrap().account = Some(account("0012345")));
    assert_eq!(
        service.profile(&auth).await.unwrap().account,
        Some(account("0012345"))
    );
}

#[tokio::test]
async fn an_operator_finds_a_cabinet_by_any_handle_with_the_handles_masked() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    world.with(|s| s.subscribers.get_mut(&id).unwrap().account = Some(account("0012345")));
    let expected = CabinetSummary {
        id,
        name: PersonName::parse("Иванов Иван Иванович").unwrap(),
        account: Some(MaskedAccount {
            supplier: supplier(),
            number: "***2345".to_owned(),
        }),
        phone: Some("+7 916 ***-**-01".to_owned()),
        email: Some("i***@mail.ru".to_owned()),
        status: CabinetStatus::Active,
        created_at: T0,
    };
    for handle in [
        LoginHandle::Phone(phone(1)),
        LoginHandle::Email(email("ivan")),
        LoginHandle::Account(AccountNumber::parse("0012345").unwrap()),
    ] {
        assert_eq!(
            service.find_cabinet(&handle).await.unwrap(),
            Some(expected.clone())
        );
    }
    assert_eq!(
        service
            .find_cabinet(&LoginHandle::Phone(phone(2)))
            .await
            .unwrap(),
        None
    );
    // A pending email is not a handle.
    service
        .request_email_change(&auth, &email("new"), &email("new"))
        .await
        .unwrap();
    assert_eq!(
        service
            .find_cabinet(&LoginHandle::Email(email("new")))
            .await
            .unwrap(),
        None
    );
    service.block_cabinet(&auth, &web()).await.unwrap();
    let found = service
        .find_cabinet(&LoginHandle::Phone(phone(1)))
        .await
        .unwrap()
        .unwrap();
    assert!(found.is_blocked());
    assert!(matches!(
        found.status,
        CabinetStatus::Blocked {
            by: BlockedBy::Subscriber,
            ..
        }
    ));
}

#[tokio::test]
async fn an_operator_unblocks_a_blocked_cabinet_once() {
    let world = World::new();
    let service = world.service();
    let (id, auth) = signed_in(&world, &service).await;
    let operator = ClientInfo::new(Channel::Operator);
    assert!(matches!(
        service
            .unblock_cabinet_by_operator(id, "operator-7", &operator)
            .await,
        Err(UnblockCabinetError::NotBlocked)
    ));
    assert!(matches!(
        service
            .unblock_cabinet_by_operator(SubscriberId::from_bytes([9; 16]), "op", &operator)
            .await,
        Err(UnblockCabinetError::NotFound)
    ));
    service.block_cabinet(&auth, &web()).await.unwrap();
    let log_before = world.with(|s| s.log.len());
    service
        .unblock_cabinet_by_operator(id, "operator-7", &operator)
        .await
        .unwrap();
    assert_eq!(
        world.with(|s| s.subscribers[&id].status.clone()),
        CabinetStatus::Active
    );
    // Logged once, with the operator and the operator channel.
    let logged: Vec<SecurityEvent> = world.with(|s| s.log[log_before..].to_vec());
    assert_eq!(
        logged,
        vec![SecurityEvent {
            subscriber: id,
            at: world.with(|s| s.now.unwrap()),
            kind: SecurityEventKind::CabinetUnblocked {
                operator: "operator-7".to_owned(),
            },
            client: operator.clone(),
        }]
    );
    // The sessions the block ended stay ended; the password still works.
    assert!(world.with(|s| s.sessions.iter().all(|x| x.revoked_at.is_some())));
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    assert!(service.authenticate(&session.token).await.is_ok());
    // A second unblock changes and logs nothing.
    assert!(matches!(
        service
            .unblock_cabinet_by_operator(id, "operator-8", &operator)
            .await,
        Err(UnblockCabinetError::NotBlocked)
    ));
    assert_eq!(
        world.with(|s| {
            s.log
                .iter()
                .filter(|e| matches!(e.kind, SecurityEventKind::CabinetUnblocked { .. }))
                .count()
        }),
        1
    );
    // An operator's block is lifted the same way.
    service
        .block_cabinet_by_operator(id, "operator-7", &operator)
        .await
        .unwrap();
    service
        .unblock_cabinet_by_operator(id, "operator-9", &operator)
        .await
        .unwrap();
    assert!(
        login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn activity_is_written_once_a_minute_and_never_extends_the_idle_timeout() {
    let world = World::new();
    let service = world.service();
    register(&world, &service, &phone(1), &email("ivan")).await;
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let start = world.with(|s| s.now.unwrap());
    let last_seen = || world.with(|s| s.sessions.last().unwrap().last_seen_at);
    let idle = service.policy().sessions.idle_timeout;
    let interval = service.policy().sessions.touch_interval;
    assert_eq!(interval, Duration::MINUTE);

    // Within the interval nothing is written; once it has passed, the request is recorded.
    world.advance(Duration::seconds(59));
    service.authenticate(&session.token).await.unwrap();
    assert_eq!(last_seen(), start);
    world.advance(Duration::SECOND);
    service.authenticate(&session.token).await.unwrap();
    assert_eq!(last_seen(), start + interval);

    // A session in use stays alive: every request at least a minute after the recorded one
    // moves the idle deadline.
    for _ in 0..3 {
        world.advance(idle - Duration::SECOND);
        service.authenticate(&session.token).await.unwrap();
        assert_eq!(last_seen(), world.with(|s| s.now.unwrap()));
    }

    // Idling out after a skipped write: at most `interval` early.
    let session = login(&service, LoginHandle::Phone(phone(1)), PASSWORD)
        .await
        .unwrap();
    let opened = world.with(|s| s.now.unwrap());
    world.advance(Duration::seconds(59));
    service.authenticate(&session.token).await.unwrap();
    let last_request = world.with(|s| s.now.unwrap());
    world.advance(idle - Duration::seconds(59));
    assert_eq!(world.with(|s| s.now.unwrap()), opened + idle);
    assert!(service.authenticate(&session.token).await.is_err());
    assert!(world.with(|s| s.now.unwrap()) - last_request >= idle - interval);
}

#[tokio::test]
async fn requests_are_limited_per_client_address_and_action() {
    let world = World::new();
    let service = world.service();
    let limit = service.policy().per_address.registration.clone();
    for _ in 0..limit.max_events {
        service
            .admit_client("203.0.113.7", ClientAction::Registration)
            .await
            .unwrap();
        world.advance(Duration::SECOND);
    }
    let refused = service
        .admit_client("203.0.113.7:40000", ClientAction::Registration)
        .await;
    let Err(Throttled::TooManyRequests { retry_after }) = refused else {
        panic!("not refused: {refused:?}");
    };
    assert_eq!(
        retry_after,
        limit.window - Duration::seconds(i64::from(limit.max_events))
    );
    // Another address, and another action from the same address, have their own counts.
    service
        .admit_client("203.0.113.8", ClientAction::Registration)
        .await
        .unwrap();
    service
        .admit_client("203.0.113.7", ClientAction::Login)
        .await
        .unwrap();
    // One IPv6 /64 is one client.
    for n in 0..limit.max_events {
        service
            .admit_client(&format!("2001:db8:0:1::{n:x}"), ClientAction::Registration)
            .await
            .unwrap();
    }
    assert!(
        service
            .admit_client("2001:db8:0:1:ffff::1", ClientAction::Registration)
            .await
            .is_err()
    );
    // Refusals record nothing: once the window has passed the address is admitted again.
    world.advance(retry_after);
    service
        .admit_client("203.0.113.7", ClientAction::Registration)
        .await
        .unwrap();
    let count = world.with(|s| {
        s.throttle[&ThrottleKey::client_address(ClientAction::Registration, "203.0.113.7")].len()
    });
    assert_eq!(count, usize::try_from(limit.max_events).unwrap() + 1);
}

#[test]
fn every_error_has_a_russian_message() {
    use crate::domain::{InvalidId, ParseError};
    let port = || crate::ports::PortError::new("x");
    let wait = Duration::SECOND;
    let messages: Vec<&'static str> = vec![
        CodeRejected::Invalid.user_message(),
        CodeRejected::Expired.user_message(),
        CodeRejected::Used.user_message(),
        CodeRejected::TooManyAttempts.user_message(),
        PasswordRejected::Mismatch.user_message(),
        PasswordRejected::TooShort { min: 8 }.user_message(),
        PasswordRejected::TooLong { max: 128 }.user_message(),
        PasswordRejected::TooWeak.user_message(),
        PasswordRejected::ContainsLogin.user_message(),
        ParseError::Email.user_message(),
        ParseError::Phone.user_message(),
        ParseError::AccountNumber.user_message(),
        ParseError::PersonName.user_message(),
        ParseError::Reference.user_message(),
        InvalidId.user_message(),
        ResendCodeError::NotFound.user_message(),
        ResendCodeError::TooManyCodes { retry_after: wait }.user_message(),
        ResendCodeError::Unexpected(port()).user_message(),
        StartRegistrationError::CaptchaFailed.user_message(),
        StartRegistrationError::Password(PasswordRejected::TooWeak).user_message(),
        StartRegistrationError::TooManyCodes { retry_after: wait }.user_message(),
        StartRegistrationError::Unexpected(port()).user_message(),
        StartAccountRegistrationError::CaptchaFailed.user_message(),
        StartAccountRegistrationError::NotConfirmed.user_message(),
        StartAccountRegistrationError::TooManyAttempts { retry_after: wait }.user_message(),
        StartAccountRegistrationError::TooManyCodes { retry_after: wait }.user_message(),
        StartAccountRegistrationError::Unexpected(port()).user_message(),
        ConfirmRegistrationError::Code(CodeRejected::Used).user_message(),
        ConfirmRegistrationError::Password(PasswordRejected::TooWeak).user_message(),
        ConfirmRegistrationError::AlreadyRegistered.user_message(),
        ConfirmRegistrationError::Unexpected(port()).user_message(),
        ResendEmailError::NothingPending.user_message(),
        ResendEmailError::TooManyMessages { retry_after: wait }.user_message(),
        ResendEmailError::Unexpected(port()).user_message(),
        ConfirmEmailError::Link(CodeRejected::Expired).user_message(),
        ConfirmEmailError::EmailTaken.user_message(),
        ConfirmEmailError::Unexpected(port()).user_message(),
        LoginError::InvalidCredentials.user_message(),
        LoginError::TooManyAttempts { retry_after: wait }.user_message(),
        LoginError::Blocked.user_message(),
        LoginError::Unexpected(port()).user_message(),
        AuthenticateError::InvalidSession.user_message(),
        AuthenticateError::Unexpected(port()).user_message(),
        RevokeSessionError::NotFound.user_message(),
        RevokeSessionError::Unexpected(port()).user_message(),
        ListSessionsError::Unexpected(port()).user_message(),
        LogoutError::Unexpected(port()).user_message(),
        LogoutEverywhereError::Unexpected(port()).user_message(),
        StartRecoveryError::CaptchaFailed.user_message(),
        StartRecoveryError::TooManyCodes { retry_after: wait }.user_message(),
        StartRecoveryError::Unexpected(port()).user_message(),
        CompleteRecoveryError::Code(CodeRejected::Invalid).user_message(),
        CompleteRecoveryError::Password(PasswordRejected::Mismatch).user_message(),
        CompleteRecoveryError::Unexpected(port()).user_message(),
        ChangePasswordError::WrongPassword.user_message(),
        ChangePasswordError::TooManyAttempts { retry_after: wait }.user_message(),
        ChangePasswordError::Password(PasswordRejected::TooShort { min: 8 }).user_message(),
        ChangePasswordError::Unexpected(port()).user_message(),
        ChangeEmailError::Mismatch.user_message(),
        ChangeEmailError::SameAsCurrent.user_message(),
        ChangeEmailError::TooManyCodes { retry_after: wait }.user_message(),
        ChangeEmailError::Unexpected(port()).user_message(),
        ChangePhoneError::SameAsCurrent.user_message(),
        ChangePhoneError::TooManyCodes { retry_after: wait }.user_message(),
        ChangePhoneError::Unexpected(port()).user_message(),
        ConfirmPhoneChangeError::Code(CodeRejected::TooManyAttempts).user_message(),
        ConfirmPhoneChangeError::PhoneTaken.user_message(),
        ConfirmPhoneChangeError::Unexpected(port()).user_message(),
        UpdatePersonalDataError::Unexpected(port()).user_message(),
        LinkAccountError::ProofRejected.user_message(),
        LinkAccountError::TooManyAttempts { retry_after: wait }.user_message(),
        LinkAccountError::AlreadyLinked.user_message(),
        LinkAccountError::Unexpected(port()).user_message(),
        LinkedAccountError::NotLinked.user_message(),
        LinkedAccountError::Unexpected(port()).user_message(),
        ListLinkedAccountsError::Unexpected(port()).user_message(),
        BlockCabinetError::NotFound.user_message(),
        BlockCabinetError::Unexpected(port()).user_message(),
        UnblockCabinetError::NotFound.user_message(),
        UnblockCabinetError::NotBlocked.user_message(),
        UnblockCabinetError::Unexpected(port()).user_message(),
        ProfileError::Unexpected(port()).user_message(),
        LookupError::Unexpected(port()).user_message(),
        Throttled::TooManyRequests { retry_after: wait }.user_message(),
        Throttled::Unexpected(port()).user_message(),
        WithdrawConsentError::NotFound.user_message(),
        WithdrawConsentError::Unexpected(port()).user_message(),
        GiveConsentError::Unexpected(port()).user_message(),
        ListConsentsError::Unexpected(port()).user_message(),
        SecurityLogError::Unexpected(port()).user_message(),
    ];
    for message in messages {
        let cyrillic = message
            .chars()
            .filter(|c| ('\u{0400}'..='\u{04ff}').contains(c));
        assert!(cyrillic.count() >= 5, "not a Russian message: {message}");
        assert!(!message.contains("{"), "unformatted placeholder: {message}");
    }
}
