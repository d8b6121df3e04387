//! Tests of [`OperatorService`] over the in-memory world: creating operators, login (the
//! same answer and the same work for an unknown login and a wrong password, throttling,
//! disabled operators), sessions and API keys (shown once, stored as digests, revocable,
//! role-checked), and port failures through mocks.

use std::sync::{Arc, Mutex};

use time::Duration;

use super::flow_tests::{NEW_PASSWORD, PASSWORD};
use super::testkit::{T0, World};
use super::*;
use crate::crypto::SecretDigest;
use crate::domain::{ApiKeyId, OperatorId, OperatorLogin, OperatorSessionId, PersonName};
use crate::model::{OperatorRole, ThrottleKey};
use crate::password::{PasswordHash, PasswordRejected};
use crate::ports::*;

fn login_name(s: &str) -> OperatorLogin {
    OperatorLogin::parse(s).unwrap()
}

fn new_operator(login: &str, role: OperatorRole) -> NewOperator {
    NewOperator {
        login: login_name(login),
        name: PersonName::parse("Смирнова Анна").unwrap(),
        password: PASSWORD.into(),
        role,
    }
}

fn attempt(login: &str, password: &str) -> OperatorLoginRequest {
    OperatorLoginRequest {
        login: login_name(login),
        password: password.into(),
    }
}

/// Creates an operator, logs in and authenticates; returns the principal and the token.
async fn signed_in_operator(
    service: &OperatorService,
    login: &str,
    role: OperatorRole,
) -> (OperatorPrincipal, Secret<String>) {
    service
        .create_operator(new_operator(login, role))
        .await
        .unwrap();
    let session = service
        .operator_login(attempt(login, PASSWORD))
        .await
        .unwrap();
    let principal = service.authenticate_operator(&session.token).await.unwrap();
    (principal, session.token)
}

fn key(role: OperatorRole) -> NewApiKey {
    NewApiKey {
        name: "Выгрузка платежей".to_owned(),
        role,
    }
}

#[tokio::test]
async fn an_operator_is_created_with_an_argon2id_style_hash_and_a_unique_login() {
    let world = World::new();
    let service = world.operator_service();
    let profile = service
        .create_operator(new_operator(" Smirnova ", OperatorRole::Support))
        .await
        .unwrap();
    assert_eq!(profile.login.as_str(), "smirnova");
    assert_eq!(profile.role, OperatorRole::Support);
    assert_eq!(profile.created_at, T0);
    assert_eq!(profile.disabled_at, None);
    let stored = world.with(|s| s.operators[&profile.id].clone());
    // Hashed through the hasher port (the fake marks its hashes), never stored as given.
    assert_ne!(stored.password_hash.as_phc(), PASSWORD);
    assert!(stored.password_hash.as_phc().starts_with("$fake$"));
    assert!(!format!("{stored:?}").contains(PASSWORD));

    let again = service
        .create_operator(new_operator("SMIRNOVA", OperatorRole::Admin))
        .await;
    assert!(matches!(again, Err(CreateOperatorError::LoginTaken)));
    assert_eq!(world.with(|s| s.operators.len()), 1);
}

#[tokio::test]
async fn operator_passwords_obey_the_password_rules() {
    let service = World::new().operator_service();
    let mut weak = new_operator("petrov", OperatorRole::Billing);
    weak.password = "12345678".into();
    assert!(matches!(
        service.create_operator(weak).await,
        Err(CreateOperatorError::PasswordRejected(
            PasswordRejected::TooWeak
        ))
    ));
    let mut with_login = new_operator("petrov", OperatorRole::Billing);
    with_login.password = "petrov и его длинный пароль".into();
    assert!(matches!(
        service.create_operator(with_login).await,
        Err(CreateOperatorError::PasswordRejected(
            PasswordRejected::ContainsLogin
        ))
    ));
    let mut short = new_operator("petrov", OperatorRole::Billing);
    short.password = "Ab1!".into();
    assert!(matches!(
        service.create_operator(short).await,
        Err(CreateOperatorError::PasswordRejected(
            PasswordRejected::TooShort { .. }
        ))
    ));
}

#[tokio::test]
async fn a_login_race_lost_at_the_unique_index_is_login_taken() {
    let world = World::new();
    let mut operators = MockOperatorRepository::new();
    operators.expect_find_by_login().returning(|_| Ok(None));
    operators
        .expect_insert()
        .returning(|_| Err(WriteError::Duplicate));
    let mut ports = world.operator_ports();
    ports.operators = Arc::new(operators);
    let service = OperatorService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        service
            .create_operator(new_operator("smirnova", OperatorRole::Support))
            .await,
        Err(CreateOperatorError::LoginTaken)
    ));
}

#[tokio::test]
async fn login_opens_a_session_whose_token_is_stored_only_as_a_digest() {
    let world = World::new();
    let service = world.operator_service();
    service
        .create_operator(new_operator("smirnova", OperatorRole::Support))
        .await
        .unwrap();
    let session = service
        .operator_login(attempt("Smirnova", PASSWORD))
        .await
        .unwrap();
    assert_eq!(session.token.expose().len(), 64);
    assert_eq!(session.role, OperatorRole::Support);
    assert_eq!(session.expires_at, T0 + Duration::hours(12));
    assert_eq!(session.idle_timeout, Duration::minutes(30));
    assert!(!format!("{session:?}").contains(session.token.expose()));
    let stored = world.with(|s| s.operator_sessions[0].clone());
    assert_eq!(
        stored.token_digest,
        SecretDigest::of_token(session.token.expose())
    );

    let principal = service.authenticate_operator(&session.token).await.unwrap();
    assert_eq!(principal.id(), session.operator);
    assert_eq!(principal.role(), OperatorRole::Support);
    assert_eq!(principal.via(), OperatorVia::Session(session.session));
    // A second login is a second session with its own token.
    let second = service
        .operator_login(attempt("smirnova", PASSWORD))
        .await
        .unwrap();
    assert_ne!(second.token.expose(), session.token.expose());
}

/// Counts the hasher's verifications, to compare the work of two answers.
struct CountingHasher {
    world: World,
    verifications: Mutex<u32>,
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
        *self.verifications.lock().unwrap() += 1;
        PasswordHasher::verify(&self.world, password, hash).await
    }
}

#[tokio::test]
async fn an_unknown_login_and_a_wrong_password_look_and_cost_the_same() {
    let world = World::new();
    let hasher = Arc::new(CountingHasher {
        world: world.clone(),
        verifications: Mutex::new(0),
    });
    let mut ports = world.operator_ports();
    ports.hasher = hasher.clone();
    let service = OperatorService::new(ports, SecurityPolicy::default());
    service.warm_up().await.unwrap();
    service
        .create_operator(new_operator("smirnova", OperatorRole::Support))
        .await
        .unwrap();
    let count = || *hasher.verifications.lock().unwrap();

    let before = count();
    let wrong = service
        .operator_login(attempt("smirnova", NEW_PASSWORD))
        .await
        .unwrap_err();
    let wrong_cost = count() - before;
    let before = count();
    let unknown = service
        .operator_login(attempt("nobody", PASSWORD))
        .await
        .unwrap_err();
    let unknown_cost = count() - before;
    assert!(matches!(wrong, OperatorLoginError::InvalidCredentials));
    assert!(matches!(unknown, OperatorLoginError::InvalidCredentials));
    assert_eq!(wrong.user_message(), unknown.user_message());
    assert_eq!((wrong_cost, unknown_cost), (1, 1));
    // Both failures are counted, each under its own key.
    let id = world.with(|s| *s.operators.keys().next().unwrap());
    world.with(|s| {
        assert_eq!(s.throttle[&ThrottleKey::login_operator(id)].len(), 1);
        assert_eq!(
            s.throttle[&ThrottleKey::login_operator_name(&login_name("nobody"))].len(),
            1
        );
    });
}

#[tokio::test]
async fn failed_operator_logins_slow_down_and_a_success_resets() {
    let world = World::new();
    let service = world.operator_service();
    let profile = service
        .create_operator(new_operator("smirnova", OperatorRole::Support))
        .await
        .unwrap();
    for _ in 0..5 {
        assert!(matches!(
            service
                .operator_login(attempt("smirnova", NEW_PASSWORD))
                .await,
            Err(OperatorLoginError::InvalidCredentials)
        ));
    }
    // Five free failures, then the back-off: even the right password must wait.
    let refused = service.operator_login(attempt("smirnova", PASSWORD)).await;
    let Err(OperatorLoginError::TooManyAttempts { retry_after }) = refused else {
        panic!("expected the limit, got {refused:?}");
    };
    assert_eq!(retry_after, Duration::SECOND);
    world.advance(retry_after);
    service
        .operator_login(attempt("smirnova", PASSWORD))
        .await
        .unwrap();
    let key = ThrottleKey::login_operator(profile.id);
    assert!(world.with(|s| !s.throttle.contains_key(&key)));
}

#[tokio::test]
async fn a_disabled_operator_cannot_log_in_or_use_sessions_and_keys() {
    let world = World::new();
    let service = world.operator_service();
    let (admin, token) = signed_in_operator(&service, "admin", OperatorRole::Admin).await;
    let created = service
        .create_api_key(&admin, key(OperatorRole::Billing))
        .await
        .unwrap();
    world.advance(Duration::minutes(1));
    world.with(|s| s.operators.get_mut(&admin.id()).unwrap().disabled_at = Some(T0));

    assert!(matches!(
        service.operator_login(attempt("admin", PASSWORD)).await,
        Err(OperatorLoginError::Disabled)
    ));
    // A wrong password learns nothing about the account being disabled.
    assert!(matches!(
        service.operator_login(attempt("admin", NEW_PASSWORD)).await,
        Err(OperatorLoginError::InvalidCredentials)
    ));
    // The right password was no failure: only the wrong one is counted.
    let key = ThrottleKey::login_operator(admin.id());
    assert_eq!(world.with(|s| s.throttle[&key].len()), 1);
    for credential in [&token, &created.key] {
        assert!(matches!(
            service.authenticate_operator(credential).await,
            Err(OperatorAuthError::InvalidCredential)
        ));
    }
}

#[tokio::test]
async fn operator_sessions_expire_when_idle_and_absolutely_and_end_at_logout() {
    let world = World::new();
    let service = world.operator_service();
    let (_, token) = signed_in_operator(&service, "smirnova", OperatorRole::Support).await;
    // Used every 29 minutes it stays alive, and activity is written only when due.
    for _ in 0..3 {
        world.advance(Duration::minutes(29));
        service.authenticate_operator(&token).await.unwrap();
    }
    let seen = world.with(|s| s.operator_sessions[0].last_seen_at);
    world.advance(Duration::seconds(30));
    service.authenticate_operator(&token).await.unwrap();
    assert_eq!(world.with(|s| s.operator_sessions[0].last_seen_at), seen);
    // Idle for 30 minutes: gone.
    world.advance(Duration::minutes(30));
    assert!(matches!(
        service.authenticate_operator(&token).await,
        Err(OperatorAuthError::InvalidCredential)
    ));

    // The absolute lifetime ends even a busy session.
    let session = service
        .operator_login(attempt("smirnova", PASSWORD))
        .await
        .unwrap();
    for _ in 0..30 {
        world.advance(Duration::minutes(29));
        if service.authenticate_operator(&session.token).await.is_err() {
            break;
        }
    }
    assert!(world.with(|s| s.now.unwrap()) >= session.expires_at);
    assert!(service.authenticate_operator(&session.token).await.is_err());

    // Logout revokes the session at once.
    let session = service
        .operator_login(attempt("smirnova", PASSWORD))
        .await
        .unwrap();
    let principal = service.authenticate_operator(&session.token).await.unwrap();
    service.logout(&principal).await.unwrap();
    assert!(matches!(
        service.authenticate_operator(&session.token).await,
        Err(OperatorAuthError::InvalidCredential)
    ));
    // A second logout with the same (stale) principal is harmless.
    service.logout(&principal).await.unwrap();
    for bad in ["", "nonsense", "ak_nonsense"] {
        assert!(matches!(
            service.authenticate_operator(&bad.into()).await,
            Err(OperatorAuthError::InvalidCredential)
        ));
    }
}

#[tokio::test]
async fn an_admin_creates_api_keys_shown_once_and_stored_as_digests() {
    let world = World::new();
    let service = world.operator_service();
    let (admin, _) = signed_in_operator(&service, "admin", OperatorRole::Admin).await;
    let created = service
        .create_api_key(
            &admin,
            NewApiKey {
                name: "  Выгрузка платежей ".to_owned(),
                role: OperatorRole::Billing,
            },
        )
        .await
        .unwrap();
    let raw = created.key.expose().clone();
    assert_eq!(raw.len(), 3 + 64);
    assert!(raw.starts_with(API_KEY_PREFIX));
    assert!(raw[3..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created.name, "Выгрузка платежей");
    assert!(!format!("{created:?}").contains(&raw));
    let stored = world.with(|s| s.api_keys[0].clone());
    assert_eq!(stored.digest, SecretDigest::of_token(&raw));
    assert_eq!(stored.operator, admin.id());
    assert!(!format!("{stored:?}").contains(&raw[3..]));

    let principal = service.authenticate_operator(&created.key).await.unwrap();
    assert_eq!(principal.id(), admin.id());
    assert_eq!(principal.role(), OperatorRole::Billing);
    assert_eq!(principal.via(), OperatorVia::Key(created.id));
    assert!(principal.require(OperatorRole::Billing).is_ok());
    assert_eq!(
        principal.require(OperatorRole::Support),
        Err(Forbidden {
            needed: OperatorRole::Support
        })
    );
    // A key has no session to end.
    assert!(matches!(
        service.logout(&principal).await,
        Err(OperatorLogoutError::NotASession)
    ));

    let listed = service.list_api_keys(&admin).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, created.id);
    assert_eq!(listed[0].revoked_at, None);
}

#[tokio::test]
async fn only_an_admin_session_manages_api_keys() {
    let world = World::new();
    let service = world.operator_service();
    let (admin, _) = signed_in_operator(&service, "admin", OperatorRole::Admin).await;
    let (support, _) = signed_in_operator(&service, "support", OperatorRole::Support).await;
    let needs_admin = Forbidden {
        needed: OperatorRole::Admin,
    };
    assert!(matches!(
        service.create_api_key(&support, key(OperatorRole::Support)).await,
        Err(CreateApiKeyError::Forbidden(f)) if f == needs_admin
    ));
    assert!(matches!(
        service.list_api_keys(&support).await,
        Err(ListApiKeysError::Forbidden(_))
    ));
    // An admin key cannot mint more keys.
    let admin_key = service
        .create_api_key(&admin, key(OperatorRole::Admin))
        .await
        .unwrap();
    let by_key = service.authenticate_operator(&admin_key.key).await.unwrap();
    assert_eq!(by_key.role(), OperatorRole::Admin);
    assert!(matches!(
        service
            .create_api_key(&by_key, key(OperatorRole::Billing))
            .await,
        Err(CreateApiKeyError::SessionRequired)
    ));
    for name in ["", "   ", &"я".repeat(101), "ключ\u{0}"] {
        let bad = NewApiKey {
            name: name.to_owned(),
            role: OperatorRole::Billing,
        };
        assert!(
            matches!(
                service.create_api_key(&admin, bad).await,
                Err(CreateApiKeyError::InvalidName)
            ),
            "{name:?}"
        );
    }
    assert!(matches!(
        service.revoke_api_key(&support, admin_key.id).await,
        Err(RevokeApiKeyError::Forbidden(_))
    ));
    assert_eq!(world.with(|s| s.api_keys.len()), 1);
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let world = World::new();
    let service = world.operator_service();
    let (admin, _) = signed_in_operator(&service, "admin", OperatorRole::Admin).await;
    let created = service
        .create_api_key(&admin, key(OperatorRole::Billing))
        .await
        .unwrap();
    service.authenticate_operator(&created.key).await.unwrap();
    world.advance(Duration::minutes(5));
    service.revoke_api_key(&admin, created.id).await.unwrap();
    assert!(matches!(
        service.authenticate_operator(&created.key).await,
        Err(OperatorAuthError::InvalidCredential)
    ));
    assert!(matches!(
        service.revoke_api_key(&admin, created.id).await,
        Err(RevokeApiKeyError::NotFound)
    ));
    assert!(matches!(
        service
            .revoke_api_key(&admin, ApiKeyId::from_bytes([9; 16]))
            .await,
        Err(RevokeApiKeyError::NotFound)
    ));
    let listed = service.list_api_keys(&admin).await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(world.with(|s| s.now.unwrap())));
}

#[tokio::test]
async fn a_key_works_only_while_its_creators_role_permits_its_role() {
    let world = World::new();
    let service = world.operator_service();
    let (admin, _) = signed_in_operator(&service, "admin", OperatorRole::Admin).await;
    let created = service
        .create_api_key(&admin, key(OperatorRole::Billing))
        .await
        .unwrap();
    // The creator is no longer an administrator (changed in the store by hand).
    world.with(|s| s.operators.get_mut(&admin.id()).unwrap().role = OperatorRole::Support);
    assert!(matches!(
        service.authenticate_operator(&created.key).await,
        Err(OperatorAuthError::InvalidCredential)
    ));
    // A session takes the operator's current role.
    let session = service
        .operator_login(attempt("admin", PASSWORD))
        .await
        .unwrap();
    let principal = service.authenticate_operator(&session.token).await.unwrap();
    assert_eq!(principal.role(), OperatorRole::Support);
}

#[test]
fn admin_may_do_everything_and_other_roles_only_their_own() {
    let principal = |role| {
        OperatorPrincipal::new_unchecked(
            OperatorId::from_bytes([1; 16]),
            role,
            OperatorVia::Session(OperatorSessionId::from_bytes([1; 16])),
        )
    };
    for needed in OperatorRole::ALL {
        assert!(principal(OperatorRole::Admin).require(needed).is_ok());
        for role in [OperatorRole::Billing, OperatorRole::Support] {
            assert_eq!(
                principal(role).require(needed).is_ok(),
                role == needed,
                "{role:?} needs {needed:?}"
            );
        }
    }
}

#[test]
fn every_operator_error_has_a_russian_message() {
    let forbidden = Forbidden {
        needed: OperatorRole::Admin,
    };
    let port = || PortError::new("x");
    let messages = [
        forbidden.user_message(),
        CreateOperatorError::LoginTaken.user_message(),
        CreateOperatorError::PasswordRejected(PasswordRejected::TooWeak).user_message(),
        CreateOperatorError::Unexpected(port()).user_message(),
        OperatorLoginError::InvalidCredentials.user_message(),
        OperatorLoginError::TooManyAttempts {
            retry_after: Duration::SECOND,
        }
        .user_message(),
        OperatorLoginError::Disabled.user_message(),
        OperatorLoginError::Unexpected(port()).user_message(),
        OperatorAuthError::InvalidCredential.user_message(),
        OperatorAuthError::Unexpected(port()).user_message(),
        OperatorLogoutError::NotASession.user_message(),
        OperatorLogoutError::Unexpected(port()).user_message(),
        CreateApiKeyError::Forbidden(forbidden).user_message(),
        CreateApiKeyError::SessionRequired.user_message(),
        CreateApiKeyError::InvalidName.user_message(),
        CreateApiKeyError::Unexpected(port()).user_message(),
        RevokeApiKeyError::Forbidden(forbidden).user_message(),
        RevokeApiKeyError::NotFound.user_message(),
        RevokeApiKeyError::Unexpected(port()).user_message(),
        ListApiKeysError::Forbidden(forbidden).user_message(),
        ListApiKeysError::Unexpected(port()).user_message(),
    ];
    for m in messages {
        assert!(m.chars().any(|c| ('а'..='я').contains(&c)), "{m}");
    }
}

fn fail() -> PortError {
    PortError::new("injected failure")
}

#[tokio::test]
async fn failing_ports_surface_as_unexpected() {
    let world = World::new();
    let service = world.operator_service();
    let (admin, token) = signed_in_operator(&service, "admin", OperatorRole::Admin).await;

    let mut operators = MockOperatorRepository::new();
    operators.expect_find_by_login().returning(|_| Err(fail()));
    operators.expect_get().returning(|_| Err(fail()));
    let mut ports = world.operator_ports();
    ports.operators = Arc::new(operators);
    let broken = OperatorService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        broken
            .create_operator(new_operator("other", OperatorRole::Support))
            .await,
        Err(CreateOperatorError::Unexpected(_))
    ));
    assert!(matches!(
        broken.operator_login(attempt("admin", PASSWORD)).await,
        Err(OperatorLoginError::Unexpected(_))
    ));
    assert!(matches!(
        broken.authenticate_operator(&token).await,
        Err(OperatorAuthError::Unexpected(_))
    ));

    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().returning(|_, _| Err(fail()));
    let mut ports = world.operator_ports();
    ports.hasher = Arc::new(hasher);
    let broken = OperatorService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        broken.operator_login(attempt("admin", PASSWORD)).await,
        Err(OperatorLoginError::Unexpected(_))
    ));

    let mut keys = MockApiKeyRepository::new();
    keys.expect_insert().returning(|_| Err(fail().into()));
    keys.expect_revoke().returning(|_, _| Err(fail()));
    keys.expect_list().returning(|| Err(fail()));
    keys.expect_find_by_key_digest().returning(|_| Err(fail()));
    let mut ports = world.operator_ports();
    ports.api_keys = Arc::new(keys);
    let broken = OperatorService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        broken
            .create_api_key(&admin, key(OperatorRole::Billing))
            .await,
        Err(CreateApiKeyError::Unexpected(_))
    ));
    assert!(matches!(
        broken
            .revoke_api_key(&admin, ApiKeyId::from_bytes([1; 16]))
            .await,
        Err(RevokeApiKeyError::Unexpected(_))
    ));
    assert!(matches!(
        broken.list_api_keys(&admin).await,
        Err(ListApiKeysError::Unexpected(_))
    ));
    assert!(matches!(
        broken.authenticate_operator(&"ak_0000".into()).await,
        Err(OperatorAuthError::Unexpected(_))
    ));

    let mut sessions = MockOperatorSessionRepository::new();
    sessions.expect_revoke().returning(|_, _| Err(fail()));
    sessions.expect_insert().returning(|_| Err(fail()));
    let mut ports = world.operator_ports();
    ports.sessions = Arc::new(sessions);
    let broken = OperatorService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        broken.logout(&admin).await,
        Err(OperatorLogoutError::Unexpected(_))
    ));
    assert!(matches!(
        broken.operator_login(attempt("admin", PASSWORD)).await,
        Err(OperatorLoginError::Unexpected(_))
    ));
}

#[tokio::test]
async fn operator_ports_share_the_identity_adapters() {
    // Built from the same `Ports` the identity service uses: one clock, one throttle store.
    let world = World::new();
    let service = OperatorService::new(world.operator_ports(), SecurityPolicy::default());
    service
        .create_operator(new_operator("smirnova", OperatorRole::Support))
        .await
        .unwrap();
    world.advance(Duration::minutes(3));
    let session = service
        .operator_login(attempt("smirnova", NEW_PASSWORD))
        .await;
    assert!(session.is_err());
    let at = world.with(|s| s.now.unwrap());
    assert!(world.with(|s| s.throttle.values().any(|events| events.contains(&at))));
}
