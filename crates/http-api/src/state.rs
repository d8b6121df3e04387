//! What every request handler can reach: the use cases and the service's settings.

use std::sync::Arc;

use billing_core::BillingService;
use billing_core::online::OnlinePayments;
use identity_core::model::ConsentDocument;
use identity_core::{IdentityService, OperatorService, QuestionService};

use crate::api::public::CaptchaDto;

/// The state shared by every request (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Settings of the HTTP layer.
    pub settings: Arc<HttpSettings>,
    /// Tells whether the service can take traffic (`/ready`).
    pub readiness: Arc<dyn Readiness>,
    /// The identity use cases.
    pub identity: Arc<IdentityService>,
    /// The billing use cases.
    pub billing: Arc<BillingService>,
    /// The operators' use cases.
    pub operators: Arc<OperatorService>,
    /// Questions and answers.
    pub questions: Arc<QuestionService>,
    /// Where `Idempotency-Key`s are kept.
    pub idempotency: Arc<dyn crate::idempotency::IdempotencyStore>,
    /// The service's clock (the sandbox clock in sandbox mode).
    pub clock: Arc<dyn identity_core::ports::Clock>,
    /// Finds houses for the address picker.
    pub houses: Arc<dyn HouseSearch>,
    /// The gate of account-scoped requests.
    pub links: Arc<dyn LinkedAccounts>,
    /// Issues captcha challenges.
    pub captcha: Arc<dyn CaptchaIssuer>,
    /// Online payments through the payment gateway.
    pub payments: Arc<OnlinePayments>,
    /// How the gateway's notifications are authenticated.
    pub webhooks: Arc<crate::webhook::WebhookSettings>,
    /// Randomness for payment order references started without an `Idempotency-Key`.
    pub random: Arc<dyn identity_core::ports::Random>,
    /// Autopay settings.
    pub autopay: Arc<billing_core::autopay::AutopayService>,
    /// Billing runs and the key-rate history.
    pub backoffice: Arc<dyn crate::api::backoffice::Backoffice>,
    /// The operator's CSV imports.
    pub imports: Arc<dyn crate::api::imports::Importer>,
    /// Work that outlives its request (a keyed request whose client went away): a graceful
    /// shutdown closes the tracker and waits for it before closing the database.
    pub tasks: tokio_util::task::TaskTracker,
}

/// The consent to personal-data processing in force: its version and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentText {
    /// The version label registrations name.
    pub version: String,
    /// The text.
    pub text: String,
}

impl ConsentText {
    /// The document identity-core records with a consent.
    pub fn document(&self) -> ConsentDocument {
        ConsentDocument::new(self.version.clone(), &self.text)
    }
}

/// The default consent text (152-ФЗ ст. 9: purpose, data, operations, term, withdrawal).
pub const DEFAULT_CONSENT_VERSION: &str = "2026-11";

/// The default consent text; a supplier configures its own.
pub const DEFAULT_CONSENT_TEXT: &str = "Я даю согласие поставщику коммунальных услуг на обработку \
моих персональных данных (фамилия, имя, отчество, номер телефона, адрес электронной почты, номер \
лицевого счёта, адрес помещения, показания приборов учёта, сведения о начислениях и платежах) с \
целью ведения личного кабинета абонента, расчётов за коммунальные услуги и направления \
уведомлений. Обработка включает сбор, запись, систематизацию, накопление, хранение, уточнение, \
использование, передачу (в том числе платёжным агентам и операторам фискальных данных в \
объёме, необходимом для приёма платежей), обезличивание, блокирование и уничтожение, с \
использованием средств автоматизации и без них. Согласие действует до его отзыва; отозвать его \
можно в личном кабинете или письменным заявлением (ст. 9 Федерального закона от 27.07.2006 \
№ 152-ФЗ «О персональных данных»).";

/// Issues captcha challenges (the sandbox captcha, or a real provider's adapter).
#[async_trait::async_trait]
pub trait CaptchaIssuer: Send + Sync {
    /// A new challenge.
    async fn issue(&self) -> Result<CaptchaDto, ReadinessError>;
}

/// A house found by [`HouseSearch::search`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundHouse {
    /// The house id (the `house_id` of linking by address).
    pub id: u64,
    /// Its postal address.
    pub address: String,
}

/// Finds a supplier's houses by words of their address (the address picker of linking by
/// address, seed 001).
#[async_trait::async_trait]
pub trait HouseSearch: Send + Sync {
    /// Up to `limit` houses of `supplier` whose address contains every word of `query`.
    async fn search(
        &self,
        supplier: u64,
        query: &str,
        limit: u32,
    ) -> Result<Vec<FoundHouse>, ReadinessError>;
}

/// What [`LinkedAccounts::session_with_link`] answers: the session with its cabinet, and the
/// link and the ЛС if linked to that cabinet — or why the link could not be read.
pub type SessionAndLink = (
    Option<(
        identity_core::model::SessionRecord,
        Option<identity_core::model::Subscriber>,
    )>,
    Result<
        Option<(
            identity_core::model::LinkedAccount,
            billing_core::model::Account,
        )>,
        ReadinessError,
    >,
);

/// The cabinet's gate to every account-scoped request: an ЛС by its billing id, only if it is
/// linked to the cabinet.
#[async_trait::async_trait]
pub trait LinkedAccounts: Send + Sync {
    /// The link and the ЛС `account` if it is linked to `subscriber` — one read, since every
    /// `/accounts/{id}/…` request asks it; `None` when the ЛС does not exist or is not linked
    /// (the caller answers both alike).
    async fn linked_account(
        &self,
        subscriber: identity_core::domain::SubscriberId,
        account: billing_core::ids::AccountId,
    ) -> Result<
        Option<(
            identity_core::model::LinkedAccount,
            billing_core::model::Account,
        )>,
        ReadinessError,
    >;
    /// The session stored under `digest` with its cabinet (what
    /// [`SessionRepository::find_with_subscriber`](identity_core::ports::SessionRepository::find_with_subscriber)
    /// answers), and the link and the ЛС `account` if it is linked to **that session's**
    /// cabinet (what [`linked_account`](Self::linked_account) answers for it) — one read, since
    /// every `/accounts/{id}/…` request asks both. The caller judges the session
    /// ([`IdentityService::admit`](identity_core::IdentityService::admit)) before it trusts
    /// the link, and before it looks at why the link could not be read (the inner error: a
    /// damaged link row must not turn a revoked session's 401 into a 503).
    async fn session_with_link(
        &self,
        digest: &identity_core::crypto::SecretDigest,
        account: billing_core::ids::AccountId,
    ) -> Result<SessionAndLink, ReadinessError>;
}

/// Settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// The largest request body accepted, in bytes; larger ones are answered with 413.
    pub body_limit: usize,
    /// The address subscribers reach the service at (links in messages, cookie `Secure`).
    pub public_url: String,
    /// The consent to personal-data processing in force.
    pub consent: ConsentText,
    /// Reverse proxies whose `X-Forwarded-For` names the client (none by default).
    pub trusted_proxies: crate::proxy::TrustedProxies,
}

impl HttpSettings {
    /// Whether cookies carry `Secure`: the service is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024,
            public_url: "http://127.0.0.1:8080".to_owned(),
            consent: ConsentText {
                version: DEFAULT_CONSENT_VERSION.to_owned(),
                text: DEFAULT_CONSENT_TEXT.to_owned(),
            },
            trusted_proxies: crate::proxy::TrustedProxies::none(),
        }
    }
}

/// A dependency's failure, logged and answered as `service-unavailable`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReadinessError(pub String);

/// The readiness probe's question to the adapters: can the database be reached and is its
/// schema current?
#[async_trait::async_trait]
pub trait Readiness: Send + Sync {
    /// `Ok` when the service can take traffic; the error says why not (logged, not shown).
    async fn check(&self) -> Result<(), ReadinessError>;
}
