//! Back-office operators: creating them (login, name, Argon2id password, role), their login
//! and sessions, API keys for programs, and the one check every operator request passes:
//! [`OperatorService::authenticate_operator`] turns a session token or an API key into an
//! [`OperatorPrincipal`], whose [`OperatorPrincipal::require`] says whether its role may do a
//! thing ([`OperatorRole::Admin`] may do everything).
//!
//! Secrets are shown once and stored only as digests: a session token is 256 random bits in
//! hex, an API key is `ak_` and 256 random bits in hex. An unknown login and a wrong password
//! give the same error after the same work (one throttle reservation, one hash
//! verification); failed logins are throttled per operator (per login when it is unknown)
//! under [`crate::SecurityPolicy::login`], exactly like subscribers' logins. A disabled
//! operator cannot log in, and their sessions and API keys stop authenticating at once.

use std::fmt;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::{DummyHash, Ports, reserve_attempt};
use crate::crypto::{SecretDigest, new_token, random_bytes};
use crate::domain::{ApiKeyId, OperatorId, OperatorLogin, OperatorSessionId, PersonName};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{ApiKeyRecord, Operator, OperatorRole, OperatorSessionRecord, ThrottleKey};
use crate::password::{PasswordRejected, check_new_password};
use crate::policy::SecurityPolicy;
use crate::ports::{
    ApiKeyRepository, Clock, OperatorRepository, OperatorSessionRepository, PasswordHasher,
    PortError, Random, ThrottleRepository, WriteError,
};
use crate::secret::Secret;

/// What every API key starts with; a credential without it is read as a session token.
pub const API_KEY_PREFIX: &str = "ak_";

/// The most characters in an API key's name.
pub const MAX_API_KEY_NAME_CHARS: usize = 100;

/// The adapters an [`OperatorService`] works through.
#[derive(Clone)]
pub struct OperatorPorts {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness for ids, tokens and keys.
    pub random: Arc<dyn Random>,
    /// Password hashing (production: [`crate::password::Argon2idHasher`]).
    pub hasher: Arc<dyn PasswordHasher>,
    /// Throttling counters (failed logins).
    pub throttle: Arc<dyn ThrottleRepository>,
    /// Operators.
    pub operators: Arc<dyn OperatorRepository>,
    /// API keys.
    pub api_keys: Arc<dyn ApiKeyRepository>,
    /// Operator sessions.
    pub sessions: Arc<dyn OperatorSessionRepository>,
}

impl OperatorPorts {
    /// The shared adapters of `shared` and the operator stores.
    pub fn new(
        shared: &Ports,
        operators: Arc<dyn OperatorRepository>,
        api_keys: Arc<dyn ApiKeyRepository>,
        sessions: Arc<dyn OperatorSessionRepository>,
    ) -> Self {
        Self {
            clock: shared.clock.clone(),
            random: shared.random.clone(),
            hasher: shared.hasher.clone(),
            throttle: shared.throttle.clone(),
            operators,
            api_keys,
            sessions,
        }
    }
}

/// Back-office operators, their sessions and API keys. Cheap to share behind an `Arc`.
pub struct OperatorService {
    ports: OperatorPorts,
    policy: SecurityPolicy,
    dummy_hash: DummyHash,
}

/// How an operator's request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorVia {
    /// A session opened by [`OperatorService::operator_login`].
    Session(OperatorSessionId),
    /// An API key.
    Key(ApiKeyId),
}

/// Proof that a request carries a live operator session or a valid API key: made only by
/// [`OperatorService::authenticate_operator`], required by every operator operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorPrincipal {
    id: OperatorId,
    role: OperatorRole,
    via: OperatorVia,
}

impl OperatorPrincipal {
    /// The operator (for an API key: the operator who created it).
    pub fn id(&self) -> OperatorId {
        self.id
    }

    /// What the request may do: the operator's role for a session, the key's role for a key.
    pub fn role(&self) -> OperatorRole {
        self.role
    }

    /// The session or key used.
    pub fn via(&self) -> OperatorVia {
        self.via
    }

    /// `Ok` if the principal's role may do what `needed` may ([`OperatorRole::permits`]:
    /// `Admin` may do everything).
    pub fn require(&self, needed: OperatorRole) -> Result<(), Forbidden> {
        if self.role.permits(needed) {
            Ok(())
        } else {
            Err(Forbidden { needed })
        }
    }

    /// Builds the proof without a check, for tests of crates that use this one.
    #[cfg(any(test, feature = "mocks"))]
    pub fn new_unchecked(id: OperatorId, role: OperatorRole, via: OperatorVia) -> Self {
        Self { id, role, via }
    }
}

/// The operator's role does not allow the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("forbidden: needs the {needed:?} role")]
pub struct Forbidden {
    /// The role the operation needs (or [`OperatorRole::Admin`]).
    pub needed: OperatorRole,
}

impl UserMessage for Forbidden {
    fn user_message(&self) -> &'static str {
        "Недостаточно прав для этого действия."
    }
}

/// A new operator.
#[derive(Debug, Clone)]
pub struct NewOperator {
    /// The login.
    pub login: OperatorLogin,
    /// The operator's name.
    pub name: PersonName,
    /// The password (the same rules as subscribers' passwords).
    pub password: Secret<String>,
    /// What the operator may do.
    pub role: OperatorRole,
}

/// What is shown of an operator (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorProfile {
    /// Its id.
    pub id: OperatorId,
    /// The login.
    pub login: OperatorLogin,
    /// The name.
    pub name: PersonName,
    /// The role.
    pub role: OperatorRole,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When disabled, if disabled.
    pub disabled_at: Option<OffsetDateTime>,
}

impl From<Operator> for OperatorProfile {
    fn from(o: Operator) -> Self {
        Self {
            id: o.id,
            login: o.login,
            name: o.name,
            role: o.role,
            created_at: o.created_at,
            disabled_at: o.disabled_at,
        }
    }
}

/// An operator's login attempt.
#[derive(Debug, Clone)]
pub struct OperatorLoginRequest {
    /// The login.
    pub login: OperatorLogin,
    /// The password.
    pub password: Secret<String>,
}

/// An operator session just opened. The token is shown once and never stored.
#[derive(Debug)]
pub struct NewOperatorSession {
    /// The bearer token (256 random bits, hex).
    pub token: Secret<String>,
    /// The session's id.
    pub session: OperatorSessionId,
    /// The operator.
    pub operator: OperatorId,
    /// The operator's role.
    pub role: OperatorRole,
    /// When the session ends whatever its use.
    pub expires_at: OffsetDateTime,
    /// How long it may stay unused.
    pub idle_timeout: Duration,
}

/// A new API key's name and role.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// What the key is for ("выгрузка платежей"): 1 to [`MAX_API_KEY_NAME_CHARS`] characters
    /// after trimming, no control characters.
    pub name: String,
    /// What requests with the key may do.
    pub role: OperatorRole,
}

/// An API key just created. The key is shown once and never stored.
pub struct CreatedApiKey {
    /// Its id, for revoking.
    pub id: ApiKeyId,
    /// The key: [`API_KEY_PREFIX`] and 64 hex digits.
    pub key: Secret<String>,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: OperatorRole,
    /// When created.
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What is shown of an API key (never the key or its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// Its id.
    pub id: ApiKeyId,
    /// The operator who created it.
    pub operator: OperatorId,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: OperatorRole,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When revoked, if revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<ApiKeyRecord> for ApiKeyInfo {
    fn from(k: ApiKeyRecord) -> Self {
        Self {
            id: k.id,
            operator: k.operator,
            name: k.name,
            role: k.role,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// Errors of [`OperatorService::create_operator`].
#[derive(Debug, thiserror::Error)]
pub enum CreateOperatorError {
    /// Another operator has this login.
    #[error("login taken")]
    LoginTaken,
    /// The password breaks the password rules.
    #[error("password rejected: {0}")]
    PasswordRejected(#[from] PasswordRejected),
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for CreateOperatorError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::LoginTaken => "Оператор с таким логином уже есть.",
            Self::PasswordRejected(e) => e.user_message(),
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`OperatorService::operator_login`].
#[derive(Debug, thiserror::Error)]
pub enum OperatorLoginError {
    /// Unknown login or wrong password (deliberately the same).
    #[error("invalid login or password")]
    InvalidCredentials,
    /// Too many failed attempts for this login; wait `retry_after`.
    #[error("too many failed attempts, retry after {retry_after}")]
    TooManyAttempts {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The operator is disabled. Given only after the right password.
    #[error("operator disabled")]
    Disabled,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for OperatorLoginError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "Неверный логин или пароль.",
            Self::TooManyAttempts { .. } => {
                "Слишком много неудачных попыток входа. Попробуйте позже."
            }
            Self::Disabled => "Учётная запись оператора отключена. Обратитесь к администратору.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`OperatorService::authenticate_operator`].
#[derive(Debug, thiserror::Error)]
pub enum OperatorAuthError {
    /// Unknown, expired or revoked session token or API key, or a disabled operator
    /// (deliberately the same).
    #[error("invalid operator credential")]
    InvalidCredential,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for OperatorAuthError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::InvalidCredential => "Сеанс завершён или ключ недействителен. Войдите снова.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`OperatorService::logout`].
#[derive(Debug, thiserror::Error)]
pub enum OperatorLogoutError {
    /// The request was authenticated by an API key, which has no session to end (revoke the
    /// key instead).
    #[error("not a session")]
    NotASession,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for OperatorLogoutError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotASession => "Запрос выполнен по API-ключу: завершать нечего.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`OperatorService::create_api_key`].
#[derive(Debug, thiserror::Error)]
pub enum CreateApiKeyError {
    /// Only an administrator creates API keys.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// API keys are created only from a signed-in session, never with another API key (a
    /// leaked key cannot make more).
    #[error("an API key cannot create API keys")]
    SessionRequired,
    /// The name is blank, too long or has control characters.
    #[error("invalid API key name")]
    InvalidName,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for CreateApiKeyError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Forbidden(e) => e.user_message(),
            Self::SessionRequired => {
                "API-ключи создаются только после входа по логину и паролю, не по API-ключу."
            }
            Self::InvalidName => "Укажите название ключа: от 1 до 100 символов.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`OperatorService::revoke_api_key`].
#[derive(Debug, thiserror::Error)]
pub enum RevokeApiKeyError {
    /// Only an administrator revokes API keys.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// No such unrevoked key.
    #[error("API key not found")]
    NotFound,
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for RevokeApiKeyError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Forbidden(e) => e.user_message(),
            Self::NotFound => "Ключ не найден или уже отозван.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`OperatorService::list_api_keys`].
#[derive(Debug, thiserror::Error)]
pub enum ListApiKeysError {
    /// Only an administrator lists API keys.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ListApiKeysError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Forbidden(e) => e.user_message(),
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

impl OperatorService {
    /// A service over `ports` with `policy`.
    pub fn new(ports: OperatorPorts, policy: SecurityPolicy) -> Self {
        Self {
            ports,
            policy,
            dummy_hash: DummyHash::default(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &SecurityPolicy {
        &self.policy
    }

    /// Computes the dummy hash that makes unknown logins cost as much as known ones; call it
    /// at start-up (otherwise the first unknown login is slower once).
    pub async fn warm_up(&self) -> Result<(), PortError> {
        self.dummy_hash.get(&*self.ports.hasher).await.map(|_| ())
    }

    fn now(&self) -> OffsetDateTime {
        self.ports.clock.now()
    }

    /// Creates an operator. The caller has authorised it: the `abonent operator create`
    /// command, or an HTTP handler that required [`OperatorRole::Admin`] of its principal.
    /// The password obeys the subscribers' rules ([`crate::policy::PasswordPolicy`]) and may
    /// not contain the login.
    pub async fn create_operator(
        &self,
        new: NewOperator,
    ) -> Result<OperatorProfile, CreateOperatorError> {
        let now = self.now();
        let logins = vec![new.login.as_str().to_owned()];
        let personal: Vec<String> = new.name.as_str().split(' ').map(str::to_owned).collect();
        let password = check_new_password(
            &self.policy.password,
            &new.password,
            &new.password,
            &logins,
            &personal,
        )?;
        if self
            .ports
            .operators
            .find_by_login(&new.login)
            .await?
            .is_some()
        {
            return Err(CreateOperatorError::LoginTaken);
        }
        let operator = Operator {
            id: OperatorId::from_bytes(random_bytes(&*self.ports.random)?),
            login: new.login,
            name: new.name,
            password_hash: self.ports.hasher.hash(&password).await?,
            role: new.role,
            created_at: now,
            disabled_at: None,
        };
        match self.ports.operators.insert(&operator).await {
            Ok(()) => Ok(operator.into()),
            // Taken between the check and the insert (the unique index decides).
            Err(WriteError::Duplicate) => Err(CreateOperatorError::LoginTaken),
            Err(WriteError::Conflict) => {
                Err(PortError::new("unexpected version conflict on operator insert").into())
            }
            Err(WriteError::Port(e)) => Err(e.into()),
        }
    }

    /// Logs an operator in with login and password and opens a session (a new token every
    /// time). Failed attempts are throttled like subscribers' logins
    /// ([`crate::SecurityPolicy::login`]), reserved atomically before the password is
    /// checked; a right password clears the count.
    pub async fn operator_login(
        &self,
        request: OperatorLoginRequest,
    ) -> Result<NewOperatorSession, OperatorLoginError> {
        let now = self.now();
        let operator = self.ports.operators.find_by_login(&request.login).await?;
        let key = match &operator {
            Some(o) => ThrottleKey::login_operator(o.id),
            None => ThrottleKey::login_operator_name(&request.login),
        };
        if let Err(retry_after) =
            reserve_attempt(&*self.ports.throttle, &self.policy.login, &key, now).await?
        {
            return Err(OperatorLoginError::TooManyAttempts { retry_after });
        }
        let hash = operator.as_ref().map(|o| &o.password_hash);
        let matches = self
            .dummy_hash
            .verify(&*self.ports.hasher, &request.password, hash)
            .await?;
        let Some(operator) = operator.filter(|_| matches) else {
            // The reservation stays: it is this failure's record.
            return Err(OperatorLoginError::InvalidCredentials);
        };
        if operator.is_disabled() {
            // The right password is no failure; only the reservation is given back.
            self.ports.throttle.release(&key, now).await?;
            return Err(OperatorLoginError::Disabled);
        }
        self.ports.throttle.clear(&key).await?;
        let id = OperatorSessionId::from_bytes(random_bytes(&*self.ports.random)?);
        let (token, digest) = new_token(&*self.ports.random)?;
        let record = OperatorSessionRecord {
            id,
            operator: operator.id,
            token_digest: digest,
            created_at: now,
            last_seen_at: now,
            revoked_at: None,
        };
        self.ports.sessions.insert(&record).await?;
        Ok(NewOperatorSession {
            token,
            session: id,
            operator: operator.id,
            role: operator.role,
            expires_at: now + self.policy.operator_sessions.absolute_lifetime,
            idle_timeout: self.policy.operator_sessions.idle_timeout,
        })
    }

    /// Checks an operator's credential: an API key (it starts with [`API_KEY_PREFIX`]) or a
    /// session token. Unknown, revoked and expired credentials, keys whose role their
    /// creator's role no longer permits, and credentials of a disabled or missing operator all
    /// give [`OperatorAuthError::InvalidCredential`]. A session's activity is written at most
    /// once per [`crate::policy::SessionPolicy::touch_interval`].
    pub async fn authenticate_operator(
        &self,
        credential: &Secret<String>,
    ) -> Result<OperatorPrincipal, OperatorAuthError> {
        let now = self.now();
        let text = credential.expose().trim();
        let digest = SecretDigest::of_token(text);
        if text.starts_with(API_KEY_PREFIX) {
            self.authenticate_key(&digest).await
        } else {
            self.authenticate_session(&digest, now).await
        }
    }

    async fn authenticate_key(
        &self,
        digest: &SecretDigest,
    ) -> Result<OperatorPrincipal, OperatorAuthError> {
        let Some(key) = self.ports.api_keys.find_by_key_digest(digest).await? else {
            return Err(OperatorAuthError::InvalidCredential);
        };
        if !key.digest.ct_eq(digest) || key.revoked_at.is_some() {
            return Err(OperatorAuthError::InvalidCredential);
        }
        let owner = self.active_operator(key.operator).await?;
        if !owner.role.permits(key.role) {
            return Err(OperatorAuthError::InvalidCredential);
        }
        Ok(OperatorPrincipal {
            id: owner.id,
            role: key.role,
            via: OperatorVia::Key(key.id),
        })
    }

    async fn authenticate_session(
        &self,
        digest: &SecretDigest,
        now: OffsetDateTime,
    ) -> Result<OperatorPrincipal, OperatorAuthError> {
        let Some(record) = self.ports.sessions.find_by_token(digest).await? else {
            return Err(OperatorAuthError::InvalidCredential);
        };
        let policy = &self.policy.operator_sessions;
        if !record.token_digest.ct_eq(digest)
            || !record.is_live(now, policy.idle_timeout, policy.absolute_lifetime)
        {
            return Err(OperatorAuthError::InvalidCredential);
        }
        let operator = self.active_operator(record.operator).await?;
        if policy.touch_due(record.last_seen_at, now) {
            self.ports.sessions.touch(record.id, now).await?;
        }
        Ok(OperatorPrincipal {
            id: operator.id,
            role: operator.role,
            via: OperatorVia::Session(record.id),
        })
    }

    /// The operator with this id, if present and not disabled.
    async fn active_operator(&self, id: OperatorId) -> Result<Operator, OperatorAuthError> {
        self.ports
            .operators
            .get(id)
            .await?
            .filter(|o| !o.is_disabled())
            .ok_or(OperatorAuthError::InvalidCredential)
    }

    /// Ends the session the request came with.
    pub async fn logout(&self, principal: &OperatorPrincipal) -> Result<(), OperatorLogoutError> {
        let OperatorVia::Session(session) = principal.via else {
            return Err(OperatorLogoutError::NotASession);
        };
        // Already revoked (a concurrent logout) is as good as revoked now.
        let _revoked_now = self.ports.sessions.revoke(session, self.now()).await?;
        Ok(())
    }

    /// Creates an API key with `new.role`, owned by the administrator creating it (the key
    /// stops working if they are disabled). Only [`OperatorRole::Admin`], and only from a
    /// session ([`CreateApiKeyError::SessionRequired`]). The key is returned once; only its
    /// digest is stored.
    pub async fn create_api_key(
        &self,
        principal: &OperatorPrincipal,
        new: NewApiKey,
    ) -> Result<CreatedApiKey, CreateApiKeyError> {
        principal.require(OperatorRole::Admin)?;
        if !matches!(principal.via, OperatorVia::Session(_)) {
            return Err(CreateApiKeyError::SessionRequired);
        }
        let name = new.name.trim();
        if !(1..=MAX_API_KEY_NAME_CHARS).contains(&name.chars().count())
            || name.chars().any(char::is_control)
        {
            return Err(CreateApiKeyError::InvalidName);
        }
        let now = self.now();
        let id = ApiKeyId::from_bytes(random_bytes(&*self.ports.random)?);
        let (raw, _) = new_token(&*self.ports.random)?;
        let key = Secret::new(format!("{API_KEY_PREFIX}{}", raw.expose()));
        let record = ApiKeyRecord {
            id,
            operator: principal.id,
            name: name.to_owned(),
            digest: SecretDigest::of_token(key.expose()),
            role: new.role,
            created_at: now,
            revoked_at: None,
        };
        match self.ports.api_keys.insert(&record).await {
            Ok(()) => Ok(CreatedApiKey {
                id,
                key,
                name: record.name,
                role: record.role,
                created_at: now,
            }),
            Err(WriteError::Duplicate | WriteError::Conflict) => {
                Err(PortError::new("API key id or digest taken").into())
            }
            Err(WriteError::Port(e)) => Err(e.into()),
        }
    }

    /// Revokes an API key at once (only [`OperatorRole::Admin`]).
    pub async fn revoke_api_key(
        &self,
        principal: &OperatorPrincipal,
        id: ApiKeyId,
    ) -> Result<(), RevokeApiKeyError> {
        principal.require(OperatorRole::Admin)?;
        if self.ports.api_keys.revoke(id, self.now()).await? {
            Ok(())
        } else {
            Err(RevokeApiKeyError::NotFound)
        }
    }

    /// Every API key, revoked ones included, oldest first (only [`OperatorRole::Admin`]).
    pub async fn list_api_keys(
        &self,
        principal: &OperatorPrincipal,
    ) -> Result<Vec<ApiKeyInfo>, ListApiKeysError> {
        principal.require(OperatorRole::Admin)?;
        Ok(self
            .ports
            .api_keys
            .list()
            .await?
            .into_iter()
            .map(ApiKeyInfo::from)
            .collect())
    }
}
