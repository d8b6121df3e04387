//! The identity-core errors as problems: one `From` per use-case error enum, every variant
//! matched (no catch-all), the Russian `detail` from the core's `user_message()`.
//!
//! **Invariant:** an `Unexpected` variant is logged and answered `service-unavailable`;
//! its text never reaches the client.

use identity_core::UserMessage;
use identity_core::password::PasswordRejected;
use identity_core::service::{
    AuthenticateError, BlockCabinetError, ChangeEmailError, ChangePasswordError, CodeRejected,
    CompleteRecoveryError, ConfirmEmailError, ConfirmRegistrationError, GiveConsentError,
    LinkAccountError, LinkedAccountError, ListConsentsError, ListLinkedAccountsError,
    ListSessionsError, LoginError, LogoutError, LogoutEverywhereError, ProfileError,
    ResendCodeError, ResendEmailError, RevokeSessionError, SecurityLogError,
    StartAccountRegistrationError, StartRecoveryError, StartRegistrationError, Throttled,
    UpdatePersonalDataError, WithdrawConsentError,
};
use identity_core::service::{
    CreateApiKeyError, ListApiKeysError, LookupError, OperatorAuthError, OperatorLoginError,
    OperatorLogoutError, RevokeApiKeyError, UnblockCabinetError,
};
use time::Duration;

use crate::problem::{Problem, ProblemType};

fn seconds(d: Duration) -> u64 {
    u64::try_from(d.whole_seconds()).unwrap_or(0).max(1)
}

fn said(kind: ProblemType, e: &dyn UserMessage) -> Problem {
    Problem::with_detail(kind, e.user_message())
}

fn unexpected(context: &str, e: &dyn std::fmt::Display) -> Problem {
    Problem::unavailable(context, e)
}

impl From<CodeRejected> for Problem {
    fn from(e: CodeRejected) -> Self {
        let kind = match e {
            CodeRejected::Invalid => ProblemType::CodeInvalid,
            CodeRejected::Expired => ProblemType::CodeExpired,
            CodeRejected::Used => ProblemType::CodeUsed,
            CodeRejected::TooManyAttempts => ProblemType::CodeAttemptsExhausted,
        };
        said(kind, &e)
    }
}

impl From<PasswordRejected> for Problem {
    fn from(e: PasswordRejected) -> Self {
        said(ProblemType::PasswordRejected, &e)
    }
}

impl From<StartRegistrationError> for Problem {
    fn from(e: StartRegistrationError) -> Self {
        match &e {
            StartRegistrationError::CaptchaFailed => said(ProblemType::CaptchaFailed, &e),
            StartRegistrationError::Password(p) => (*p).into(),
            StartRegistrationError::TooManyCodes { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            StartRegistrationError::Unexpected(p) => unexpected("start registration", p),
        }
    }
}

impl From<ConfirmRegistrationError> for Problem {
    fn from(e: ConfirmRegistrationError) -> Self {
        match e {
            ConfirmRegistrationError::Code(c) => c.into(),
            ConfirmRegistrationError::Password(p) => p.into(),
            ConfirmRegistrationError::AlreadyRegistered => said(ProblemType::AlreadyRegistered, &e),
            ConfirmRegistrationError::Unexpected(p) => unexpected("confirm registration", &p),
        }
    }
}

impl From<ResendCodeError> for Problem {
    fn from(e: ResendCodeError) -> Self {
        match &e {
            ResendCodeError::NotFound => said(ProblemType::NotFound, &e),
            ResendCodeError::TooManyCodes { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            ResendCodeError::Unexpected(p) => unexpected("resend a code", p),
        }
    }
}

impl From<ResendEmailError> for Problem {
    fn from(e: ResendEmailError) -> Self {
        match &e {
            ResendEmailError::NothingPending => said(ProblemType::NothingPending, &e),
            ResendEmailError::TooManyMessages { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            ResendEmailError::Unexpected(p) => unexpected("resend the email link", p),
        }
    }
}

impl From<ConfirmEmailError> for Problem {
    fn from(e: ConfirmEmailError) -> Self {
        match e {
            ConfirmEmailError::Link(c) => c.into(),
            ConfirmEmailError::EmailTaken => said(ProblemType::EmailTaken, &e),
            ConfirmEmailError::Unexpected(p) => unexpected("confirm an email", &p),
        }
    }
}

impl From<LoginError> for Problem {
    fn from(e: LoginError) -> Self {
        match &e {
            LoginError::InvalidCredentials => said(ProblemType::LoginFailed, &e),
            LoginError::TooManyAttempts { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            LoginError::Blocked => said(ProblemType::CabinetBlocked, &e),
            LoginError::Unexpected(p) => unexpected("login", p),
        }
    }
}

impl From<AuthenticateError> for Problem {
    fn from(e: AuthenticateError) -> Self {
        match &e {
            AuthenticateError::InvalidSession => said(ProblemType::Unauthorized, &e),
            AuthenticateError::Unexpected(p) => unexpected("authenticate", p),
        }
    }
}

impl From<LogoutError> for Problem {
    fn from(e: LogoutError) -> Self {
        match &e {
            LogoutError::Unexpected(p) => unexpected("logout", p),
        }
    }
}

impl From<ListSessionsError> for Problem {
    fn from(e: ListSessionsError) -> Self {
        match &e {
            ListSessionsError::Unexpected(p) => unexpected("list sessions", p),
        }
    }
}

impl From<RevokeSessionError> for Problem {
    fn from(e: RevokeSessionError) -> Self {
        match &e {
            RevokeSessionError::NotFound => said(ProblemType::NotFound, &e),
            RevokeSessionError::Unexpected(p) => unexpected("revoke a session", p),
        }
    }
}

impl From<LogoutEverywhereError> for Problem {
    fn from(e: LogoutEverywhereError) -> Self {
        match &e {
            LogoutEverywhereError::Unexpected(p) => unexpected("logout everywhere", p),
        }
    }
}

impl From<ProfileError> for Problem {
    fn from(e: ProfileError) -> Self {
        match &e {
            ProfileError::Unexpected(p) => unexpected("read the profile", p),
        }
    }
}

impl From<Throttled> for Problem {
    fn from(e: Throttled) -> Self {
        match &e {
            Throttled::TooManyRequests { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            Throttled::Unexpected(p) => unexpected("client admission", p),
        }
    }
}

impl From<ChangePasswordError> for Problem {
    fn from(e: ChangePasswordError) -> Self {
        match &e {
            ChangePasswordError::WrongPassword => said(ProblemType::WrongPassword, &e),
            ChangePasswordError::TooManyAttempts { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            ChangePasswordError::Password(p) => (*p).into(),
            ChangePasswordError::Unexpected(p) => unexpected("change the password", p),
        }
    }
}

impl From<ChangeEmailError> for Problem {
    fn from(e: ChangeEmailError) -> Self {
        match &e {
            ChangeEmailError::Mismatch => said(ProblemType::EmailMismatch, &e),
            ChangeEmailError::SameAsCurrent => said(ProblemType::SameAsCurrent, &e),
            ChangeEmailError::TooManyCodes { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            ChangeEmailError::Unexpected(p) => unexpected("change the email", p),
        }
    }
}

impl From<UpdatePersonalDataError> for Problem {
    fn from(e: UpdatePersonalDataError) -> Self {
        match &e {
            UpdatePersonalDataError::Unexpected(p) => unexpected("change the name", p),
        }
    }
}

impl From<BlockCabinetError> for Problem {
    fn from(e: BlockCabinetError) -> Self {
        match &e {
            BlockCabinetError::NotFound => said(ProblemType::NotFound, &e),
            BlockCabinetError::Unexpected(p) => unexpected("block the cabinet", p),
        }
    }
}

impl From<SecurityLogError> for Problem {
    fn from(e: SecurityLogError) -> Self {
        match &e {
            SecurityLogError::Unexpected(p) => unexpected("read the security log", p),
        }
    }
}

impl From<ListConsentsError> for Problem {
    fn from(e: ListConsentsError) -> Self {
        match &e {
            ListConsentsError::Unexpected(p) => unexpected("list consents", p),
        }
    }
}

impl From<GiveConsentError> for Problem {
    fn from(e: GiveConsentError) -> Self {
        match &e {
            GiveConsentError::Unexpected(p) => unexpected("give a consent", p),
        }
    }
}

impl From<WithdrawConsentError> for Problem {
    fn from(e: WithdrawConsentError) -> Self {
        match &e {
            WithdrawConsentError::NotFound => said(ProblemType::NotFound, &e),
            WithdrawConsentError::Unexpected(p) => unexpected("withdraw a consent", p),
        }
    }
}

impl From<StartRecoveryError> for Problem {
    fn from(e: StartRecoveryError) -> Self {
        match &e {
            StartRecoveryError::CaptchaFailed => said(ProblemType::CaptchaFailed, &e),
            StartRecoveryError::TooManyCodes { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            StartRecoveryError::Unexpected(p) => unexpected("start a recovery", p),
        }
    }
}

impl From<CompleteRecoveryError> for Problem {
    fn from(e: CompleteRecoveryError) -> Self {
        match e {
            CompleteRecoveryError::Code(c) => c.into(),
            CompleteRecoveryError::Password(p) => p.into(),
            CompleteRecoveryError::Unexpected(p) => unexpected("complete a recovery", &p),
        }
    }
}

impl From<StartAccountRegistrationError> for Problem {
    fn from(e: StartAccountRegistrationError) -> Self {
        match &e {
            StartAccountRegistrationError::CaptchaFailed => said(ProblemType::CaptchaFailed, &e),
            StartAccountRegistrationError::NotConfirmed => {
                said(ProblemType::HolderNotConfirmed, &e)
            }
            StartAccountRegistrationError::TooManyAttempts { retry_after }
            | StartAccountRegistrationError::TooManyCodes { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            StartAccountRegistrationError::Unexpected(p) => {
                unexpected("start a registration by ЛС", p)
            }
        }
    }
}

impl From<LinkAccountError> for Problem {
    fn from(e: LinkAccountError) -> Self {
        match &e {
            LinkAccountError::ProofRejected => said(ProblemType::LinkProofRejected, &e),
            LinkAccountError::TooManyAttempts { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            LinkAccountError::AlreadyLinked => said(ProblemType::AlreadyLinked, &e),
            LinkAccountError::Unexpected(p) => unexpected("link an ЛС", p),
        }
    }
}

impl From<LinkedAccountError> for Problem {
    fn from(e: LinkedAccountError) -> Self {
        match &e {
            LinkedAccountError::NotLinked => said(ProblemType::NotLinked, &e),
            LinkedAccountError::Unexpected(p) => unexpected("change a linked ЛС", p),
        }
    }
}

impl From<ListLinkedAccountsError> for Problem {
    fn from(e: ListLinkedAccountsError) -> Self {
        match &e {
            ListLinkedAccountsError::Unexpected(p) => unexpected("list linked ЛС", p),
        }
    }
}

impl From<OperatorAuthError> for Problem {
    fn from(e: OperatorAuthError) -> Self {
        match &e {
            OperatorAuthError::InvalidCredential => said(ProblemType::Unauthorized, &e),
            OperatorAuthError::Unexpected(p) => unexpected("authenticate an operator", p),
        }
    }
}

impl From<OperatorLoginError> for Problem {
    fn from(e: OperatorLoginError) -> Self {
        match &e {
            OperatorLoginError::InvalidCredentials => said(ProblemType::LoginFailed, &e),
            OperatorLoginError::TooManyAttempts { retry_after } => {
                Problem::rate_limited(e.user_message(), seconds(*retry_after))
            }
            OperatorLoginError::Disabled => said(ProblemType::Forbidden, &e),
            OperatorLoginError::Unexpected(p) => unexpected("operator login", p),
        }
    }
}

impl From<OperatorLogoutError> for Problem {
    fn from(e: OperatorLogoutError) -> Self {
        match &e {
            OperatorLogoutError::NotASession => said(ProblemType::InvalidRequest, &e),
            OperatorLogoutError::Unexpected(p) => unexpected("operator logout", p),
        }
    }
}

impl From<CreateApiKeyError> for Problem {
    fn from(e: CreateApiKeyError) -> Self {
        match &e {
            CreateApiKeyError::Forbidden(_) | CreateApiKeyError::SessionRequired => {
                said(ProblemType::Forbidden, &e)
            }
            CreateApiKeyError::InvalidName => said(ProblemType::InvalidRequest, &e),
            CreateApiKeyError::Unexpected(p) => unexpected("create an API key", p),
        }
    }
}

impl From<RevokeApiKeyError> for Problem {
    fn from(e: RevokeApiKeyError) -> Self {
        match &e {
            RevokeApiKeyError::Forbidden(_) => said(ProblemType::Forbidden, &e),
            RevokeApiKeyError::NotFound => said(ProblemType::NotFound, &e),
            RevokeApiKeyError::Unexpected(p) => unexpected("revoke an API key", p),
        }
    }
}

impl From<ListApiKeysError> for Problem {
    fn from(e: ListApiKeysError) -> Self {
        match &e {
            ListApiKeysError::Forbidden(_) => said(ProblemType::Forbidden, &e),
            ListApiKeysError::Unexpected(p) => unexpected("list API keys", p),
        }
    }
}

impl From<LookupError> for Problem {
    fn from(e: LookupError) -> Self {
        match &e {
            LookupError::Unexpected(p) => unexpected("find a cabinet", p),
        }
    }
}

impl From<UnblockCabinetError> for Problem {
    fn from(e: UnblockCabinetError) -> Self {
        match &e {
            UnblockCabinetError::NotFound => said(ProblemType::NotFound, &e),
            UnblockCabinetError::NotBlocked => said(ProblemType::CabinetNotBlocked, &e),
            UnblockCabinetError::Unexpected(p) => unexpected("unblock a cabinet", p),
        }
    }
}
