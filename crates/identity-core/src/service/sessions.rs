//! Login by ЛС number, email or phone and password (seeds 002, 003, 004); sessions with idle
//! and absolute expiry; listing and revoking sessions; logging out everywhere.
//!
//! A session's activity is written at most once per [`crate::policy::SessionPolicy::touch_interval`]
//! (one write a minute per busy session, not one per request), so the idle timeout is measured
//! with that granularity: a session ends at most that much *before* its idle timeout after
//! the last request, never after it.
//!
//! An unknown login and a wrong password give the same error after the same work (one
//! atomic throttle reservation, one hash verification).

use time::{Duration, OffsetDateTime};

use super::{Authenticated, IdentityService, port_only_error};
use crate::crypto::{SecretDigest, new_token, random_bytes};
use crate::domain::{ClientInfo, LoginHandle, SessionId, SubscriberId};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{SecurityEventKind, SessionRecord, ThrottleKey};
use crate::ports::PortError;
use crate::secret::Secret;

/// A login attempt.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// ЛС number, email or phone.
    pub handle: LoginHandle,
    /// The password.
    pub password: Secret<String>,
    /// Where the attempt came from.
    pub client: ClientInfo,
}

/// A session just opened. The token is shown to the client once and never stored.
#[derive(Debug)]
pub struct NewSession {
    /// The bearer token (256 random bits, hex).
    pub token: Secret<String>,
    /// The session's id, for listing and revoking.
    pub session: SessionId,
    /// The cabinet.
    pub subscriber: SubscriberId,
    /// When the session ends whatever its use.
    pub expires_at: OffsetDateTime,
    /// How long it may stay unused.
    pub idle_timeout: Duration,
}

/// A live session as the subscriber sees it in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Id, for revoking.
    pub id: SessionId,
    /// When it started.
    pub created_at: OffsetDateTime,
    /// Last recorded activity (recorded at most once per
    /// [`crate::policy::SessionPolicy::touch_interval`], so up to that much behind).
    pub last_seen_at: OffsetDateTime,
    /// Channel and device.
    pub client: ClientInfo,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// Errors of [`IdentityService::login`].
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown login or wrong password (deliberately the same).
    #[error("invalid login or password")]
    InvalidCredentials,
    /// Too many failed attempts for this account; wait `retry_after`.
    #[error("too many failed attempts, retry after {retry_after}")]
    TooManyAttempts {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The cabinet is blocked; password recovery (or an operator) unblocks it. Given only after
    /// the right password.
    #[error("cabinet blocked")]
    Blocked,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for LoginError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "Неверный логин или пароль.",
            Self::TooManyAttempts { .. } => {
                "Слишком много неудачных попыток входа. Попробуйте позже или восстановите пароль."
            }
            Self::Blocked => {
                "Личный кабинет заблокирован. Чтобы разблокировать его, восстановите пароль."
            }
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::authenticate`].
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// Unknown, expired or revoked token (deliberately the same).
    #[error("invalid or expired session")]
    InvalidSession,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for AuthenticateError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::InvalidSession => "Сеанс завершён. Войдите снова.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`IdentityService::revoke_session`].
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// The subscriber has no such live session.
    #[error("session not found")]
    NotFound,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for RevokeSessionError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotFound => "Сеанс не найден или уже завершён.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

port_only_error!(
    /// Errors of [`IdentityService::list_sessions`].
    ListSessionsError
);
port_only_error!(
    /// Errors of [`IdentityService::logout`].
    LogoutError
);
port_only_error!(
    /// Errors of [`IdentityService::logout_everywhere`].
    LogoutEverywhereError
);

impl IdentityService {
    /// Logs in with a handle and password and opens a new session (a new token every time).
    ///
    /// Failed attempts are throttled per cabinet (per handle when the handle is unknown, so
    /// the answers are alike): exponential slow-down after 5 failures, at most 100 an hour.
    /// Each attempt is reserved atomically before the password is checked, so attempts in
    /// flight count too and concurrent requests cannot exceed the limit; a right password
    /// clears the count.
    pub async fn login(&self, request: LoginRequest) -> Result<NewSession, LoginError> {
        let now = self.now();
        let subscriber = self
            .ports
            .subscribers
            .find_by_handle(&request.handle)
            .await?;
        let key = match &subscriber {
            Some(s) => ThrottleKey::login_subscriber(s.id),
            None => ThrottleKey::login_handle(&request.handle),
        };
        if let Err(retry_after) = self.reserve(&self.policy.login, &key, now).await? {
            return Err(LoginError::TooManyAttempts { retry_after });
        }
        let hash = subscriber.as_ref().and_then(|s| s.password_hash.as_ref());
        let matches = self.verify_password(&request.password, hash).await?;
        let known = subscriber.as_ref().map(|s| s.id);
        let Some(subscriber) = subscriber.filter(|_| matches) else {
            // The reservation stays: it is this failure's record.
            if let Some(owner) = known {
                self.log(owner, SecurityEventKind::SignInFailed, &request.client, now)
                    .await?;
            }
            return Err(LoginError::InvalidCredentials);
        };
        if subscriber.is_blocked() {
            // The right password is not a failure; only the reservation is given back.
            self.release(&key, now).await?;
            return Err(LoginError::Blocked);
        }
        self.ports.throttle.clear(&key).await?;
        let session = self
            .open_session(subscriber.id, &request.client, now)
            .await?;
        self.log(
            subscriber.id,
            SecurityEventKind::SignedIn {
                session: session.session,
            },
            &request.client,
            now,
        )
        .await?;
        Ok(session)
    }

    async fn open_session(
        &self,
        subscriber: SubscriberId,
        client: &ClientInfo,
        now: OffsetDateTime,
    ) -> Result<NewSession, PortError> {
        let id = SessionId::from_bytes(random_bytes(&*self.ports.random)?);
        let (token, digest) = new_token(&*self.ports.random)?;
        let mut client = client.clone();
        if let Some(device) = &mut client.device {
            *device = device.chars().take(200).collect();
        }
        let record = SessionRecord {
            id,
            subscriber,
            token_digest: digest,
            created_at: now,
            last_seen_at: now,
            revoked_at: None,
            client,
        };
        self.ports.sessions.insert(&record).await?;
        Ok(NewSession {
            token,
            session: id,
            subscriber,
            expires_at: now + self.policy.sessions.absolute_lifetime,
            idle_timeout: self.policy.sessions.idle_timeout,
        })
    }

    /// Checks a session token and records the activity. Unknown, revoked, idle-expired and
    /// absolutely expired tokens, and tokens of a blocked cabinet, all give
    /// [`AuthenticateError::InvalidSession`].
    ///
    /// The activity is written ([`crate::ports::SessionRepository::touch`]) only when the
    /// recorded one is at least [`crate::policy::SessionPolicy::touch_interval`] old
    /// ([`crate::policy::SessionPolicy::touch_due`]); a skipped write leaves the idle deadline
    /// earlier than a written one would, never later.
    pub async fn authenticate(
        &self,
        token: &Secret<String>,
    ) -> Result<Authenticated, AuthenticateError> {
        let digest = SecretDigest::of_token(token.expose());
        let found = self.ports.sessions.find_with_subscriber(&digest).await?;
        self.admit(&digest, found).await
    }

    /// [`authenticate`](Self::authenticate) for a session an adapter read itself, together
    /// with something else the request needs (one read instead of two): `found` is what
    /// [`SessionRepository::find_with_subscriber`](crate::ports::SessionRepository::find_with_subscriber)
    /// returns for `digest` ([`SecretDigest::of_token`] of the token). The same checks, the
    /// same answers and the same activity write.
    pub async fn admit(
        &self,
        digest: &SecretDigest,
        found: Option<(SessionRecord, Option<crate::model::Subscriber>)>,
    ) -> Result<Authenticated, AuthenticateError> {
        let now = self.now();
        let Some((record, cabinet)) = found else {
            return Err(AuthenticateError::InvalidSession);
        };
        let policy = &self.policy.sessions;
        if !record.token_digest.ct_eq(digest)
            || !record.is_live(now, policy.idle_timeout, policy.absolute_lifetime)
        {
            return Err(AuthenticateError::InvalidSession);
        }
        // Blocking revokes every session, but a login racing with the block could still have
        // stored one: a blocked (or vanished) cabinet has no usable session whatever the store.
        // Only the session's own cabinet counts (whatever the store joined).
        let cabinet = cabinet.filter(|c| c.id == record.subscriber);
        if cabinet.is_none_or(|c| c.is_blocked()) {
            return Err(AuthenticateError::InvalidSession);
        }
        if policy.touch_due(record.last_seen_at, now) {
            self.ports.sessions.touch(record.id, now).await?;
        }
        Ok(Authenticated {
            subscriber: record.subscriber,
            session: record.id,
        })
    }

    /// Ends the current session.
    pub async fn logout(
        &self,
        auth: &Authenticated,
        client: &ClientInfo,
    ) -> Result<(), LogoutError> {
        let now = self.now();
        self.ports
            .sessions
            .revoke(auth.subscriber, auth.session, now)
            .await?;
        self.log(
            auth.subscriber,
            SecurityEventKind::SessionEnded {
                session: auth.session,
            },
            client,
            now,
        )
        .await?;
        Ok(())
    }

    /// The subscriber's live sessions, the current one marked.
    pub async fn list_sessions(
        &self,
        auth: &Authenticated,
    ) -> Result<Vec<SessionInfo>, ListSessionsError> {
        let now = self.now();
        let policy = &self.policy.sessions;
        Ok(self
            .ports
            .sessions
            .list(auth.subscriber)
            .await?
            .into_iter()
            .filter(|s| {
                s.subscriber == auth.subscriber
                    && s.is_live(now, policy.idle_timeout, policy.absolute_lifetime)
            })
            .map(|s| SessionInfo {
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                current: s.id == auth.session,
                client: s.client,
            })
            .collect())
    }

    /// Ends one of the subscriber's own sessions (for example a forgotten device).
    pub async fn revoke_session(
        &self,
        auth: &Authenticated,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<(), RevokeSessionError> {
        let now = self.now();
        if !self
            .ports
            .sessions
            .revoke(auth.subscriber, session, now)
            .await?
        {
            return Err(RevokeSessionError::NotFound);
        }
        self.log(
            auth.subscriber,
            SecurityEventKind::SessionEnded { session },
            client,
            now,
        )
        .await?;
        Ok(())
    }

    /// "Log out everywhere": ends every session of the subscriber, this one included. Returns
    /// how many ended.
    pub async fn logout_everywhere(
        &self,
        auth: &Authenticated,
        client: &ClientInfo,
    ) -> Result<u32, LogoutEverywhereError> {
        let now = self.now();
        let sessions = self
            .ports
            .sessions
            .revoke_all(auth.subscriber, None, now)
            .await?;
        self.log(
            auth.subscriber,
            SecurityEventKind::SignedOutEverywhere { sessions },
            client,
            now,
        )
        .await?;
        Ok(sessions)
    }
}
