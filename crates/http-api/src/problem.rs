//! Errors as `application/problem+json` (RFC 9457).
//!
//! Every error the service answers has the same body, [`ProblemBody`]: a stable `type`
//! (`/problems/<slug>`, one per [`ProblemType`]), an English `title`, the HTTP `status` and a
//! Russian `detail` a subscriber can read. Handlers return [`ProblemResponse`]; errors raised
//! outside handlers (unknown route, wrong method, unparsable body, missing credentials, a body
//! over the limit) reach [`from_poem_error`], which gives them the same shape.
//!
//! **Invariant:** no response carries an internal error text (SQL, driver or provider
//! messages, panics): those are logged, and the answer is [`ProblemType::ServiceUnavailable`]
//! or [`ProblemType::Internal`].

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error body (RFC 9457 "problem details").
#[derive(Object, Clone, Debug, PartialEq, Eq)]
#[oai(rename = "Problem")]
pub struct ProblemBody {
    /// A stable identifier of the kind of error: `/problems/<slug>`.
    #[oai(rename = "type")]
    pub kind: String,
    /// A short English summary of the kind of error (the same for every occurrence).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened, in Russian, for the person using the cabinet.
    pub detail: String,
    /// For a request that could not be parsed: what the parser objected to (English).
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    /// When to try again, for `rate-limited`.
    #[oai(skip_serializing_if_is_none)]
    pub retry_after_seconds: Option<u64>,
    /// For `import-invalid`: the file's bad rows (the first 100), in line order.
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<RowError>>,
}

/// One bad row of an imported file.
#[derive(Object, Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file (the header is line 1).
    pub line: u64,
    /// The column, when one column is at fault.
    #[oai(skip_serializing_if_is_none)]
    pub column: Option<String>,
    /// What is wrong, in Russian.
    pub reason: String,
}

/// The kinds of error, each with its slug, status and English title.
///
/// Slugs are part of the API: a client may branch on them, so they never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// 400: the request could not be parsed or a field is invalid.
    InvalidRequest,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: the credentials do not allow this.
    Forbidden,
    /// 404: no such resource (or not yours).
    NotFound,
    /// 405: the resource does not answer this method.
    MethodNotAllowed,
    /// 406: the client accepts no media type the resource can produce.
    NotAcceptable,
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 415: the body's media type is not accepted.
    UnsupportedMediaType,
    /// 429: too many attempts.
    RateLimited,
    /// 403: a cookie-authenticated change came from another site.
    CsrfRejected,
    /// 422: the captcha answer is wrong, expired or already used.
    CaptchaFailed,
    /// 422: the new password breaks a rule (or the two entries differ).
    PasswordRejected,
    /// 422: wrong code or link.
    CodeInvalid,
    /// 422: the code or link has expired.
    CodeExpired,
    /// 422: the code or link was already used.
    CodeUsed,
    /// 422: too many wrong codes; ask for a new one.
    CodeAttemptsExhausted,
    /// 409: the phone, email or ЛС already has a cabinet.
    AlreadyRegistered,
    /// 409: the email belongs to another cabinet.
    EmailTaken,
    /// 409: nothing is waiting for confirmation.
    NothingPending,
    /// 401: unknown login or wrong password (deliberately the same).
    LoginFailed,
    /// 422: the current password, asked again to change a setting, is wrong.
    WrongPassword,
    /// 422: the two entries of the new email differ.
    EmailMismatch,
    /// 422: the new value is the current one.
    SameAsCurrent,
    /// 403: the cabinet is blocked.
    CabinetBlocked,
    /// 422: the ЛС and holder's name (or meter) do not match the supplier's records.
    HolderNotConfirmed,
    /// 422: the proof offered to link an ЛС does not match the supplier's records.
    LinkProofRejected,
    /// 409: the ЛС is already linked to this cabinet.
    AlreadyLinked,
    /// 404: the ЛС is not linked to this cabinet.
    NotLinked,
    /// 404: the period has not been billed yet (no charges, no payment document).
    PeriodNotBilled,
    /// 422: the end of a range is before its start.
    InvalidRange,
    /// 422: the meter reading is refused (the `reason` says why).
    ReadingRejected,
    /// 409: a reading of this meter for this period was accepted already; correct it instead.
    ReadingAlreadySubmitted,
    /// 409: the reading can no longer be corrected or cancelled (its period is closed, or it
    /// is not in force).
    ReadingNotChangeable,
    /// 422: the calculator cannot estimate these values.
    EstimateRejected,
    /// 422: the `Idempotency-Key` was used for a different request.
    IdempotencyKeyReused,
    /// 409: a request with this `Idempotency-Key` is still running.
    IdempotencyKeyInProgress,
    /// 409: the cabinet is not blocked.
    CabinetNotBlocked,
    /// 409: the question was answered already.
    AlreadyAnswered,
    /// 422: the payment amount is refused (not positive, below the minimum, more than allowed).
    PaymentAmountInvalid,
    /// 422: the split by service does not fit the account or the amount.
    PaymentSplitInvalid,
    /// 422: no email or phone to send the fiscal receipt to.
    ReceiptContactMissing,
    /// 422: the payment gateway refused to create the payment.
    PaymentDeclined,
    /// 503: the payment gateway cannot be reached; nothing was charged.
    GatewayUnavailable,
    /// 409: a gateway notification names a payment the service has not recorded yet; the gateway retries.
    PaymentNotYetKnown,
    /// 400: a gateway notification's signature is missing, malformed or wrong.
    WebhookSignatureInvalid,
    /// 400: a gateway notification was signed too long ago or in the future.
    WebhookTimestampOutOfTolerance,
    /// 409: the billing run cannot start (period closed, readings window still open).
    BillingRunRefused,
    /// 422: a refund request is incomplete or asks for more than was paid.
    RefundInvalid,
    /// 409: the refund cannot be carried out or rejected in the request's state.
    RefundRefused,
    /// 422: autopay settings break a rule (day, amount, limit).
    AutopayInvalid,
    /// 409: the autopay settings changed since they were read.
    AutopayConflict,
    /// 422: an imported file has bad rows; nothing of it was applied (`errors` lists them).
    ImportInvalid,
    /// 409: an imported file contradicts the stored data; nothing of it was applied.
    ImportConflict,
    /// 500: a bug (a panic); logged with the request.
    Internal,
    /// 503: a dependency (database, provider) failed; logged, try again later.
    ServiceUnavailable,
}

impl ProblemType {
    /// Every kind, for tests and documentation.
    pub const ALL: [ProblemType; 55] = [
        ProblemType::InvalidRequest,
        ProblemType::Unauthorized,
        ProblemType::Forbidden,
        ProblemType::NotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::NotAcceptable,
        ProblemType::PayloadTooLarge,
        ProblemType::UnsupportedMediaType,
        ProblemType::RateLimited,
        ProblemType::CsrfRejected,
        ProblemType::CaptchaFailed,
        ProblemType::PasswordRejected,
        ProblemType::CodeInvalid,
        ProblemType::CodeExpired,
        ProblemType::CodeUsed,
        ProblemType::CodeAttemptsExhausted,
        ProblemType::AlreadyRegistered,
        ProblemType::EmailTaken,
        ProblemType::NothingPending,
        ProblemType::LoginFailed,
        ProblemType::WrongPassword,
        ProblemType::EmailMismatch,
        ProblemType::SameAsCurrent,
        ProblemType::CabinetBlocked,
        ProblemType::HolderNotConfirmed,
        ProblemType::LinkProofRejected,
        ProblemType::AlreadyLinked,
        ProblemType::NotLinked,
        ProblemType::PeriodNotBilled,
        ProblemType::InvalidRange,
        ProblemType::ReadingRejected,
        ProblemType::ReadingAlreadySubmitted,
        ProblemType::ReadingNotChangeable,
        ProblemType::EstimateRejected,
        ProblemType::IdempotencyKeyReused,
        ProblemType::IdempotencyKeyInProgress,
        ProblemType::CabinetNotBlocked,
        ProblemType::AlreadyAnswered,
        ProblemType::PaymentAmountInvalid,
        ProblemType::PaymentSplitInvalid,
        ProblemType::ReceiptContactMissing,
        ProblemType::PaymentDeclined,
        ProblemType::GatewayUnavailable,
        ProblemType::PaymentNotYetKnown,
        ProblemType::WebhookSignatureInvalid,
        ProblemType::WebhookTimestampOutOfTolerance,
        ProblemType::BillingRunRefused,
        ProblemType::RefundInvalid,
        ProblemType::RefundRefused,
        ProblemType::AutopayInvalid,
        ProblemType::AutopayConflict,
        ProblemType::ImportInvalid,
        ProblemType::ImportConflict,
        ProblemType::Internal,
        ProblemType::ServiceUnavailable,
    ];

    /// The stable slug (`type` is `/problems/<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            ProblemType::InvalidRequest => "invalid-request",
            ProblemType::Unauthorized => "unauthorized",
            ProblemType::Forbidden => "forbidden",
            ProblemType::NotFound => "not-found",
            ProblemType::MethodNotAllowed => "method-not-allowed",
            ProblemType::NotAcceptable => "not-acceptable",
            ProblemType::PayloadTooLarge => "payload-too-large",
            ProblemType::UnsupportedMediaType => "unsupported-media-type",
            ProblemType::RateLimited => "rate-limited",
            ProblemType::CsrfRejected => "csrf-rejected",
            ProblemType::CaptchaFailed => "captcha-failed",
            ProblemType::PasswordRejected => "password-rejected",
            ProblemType::CodeInvalid => "code-invalid",
            ProblemType::CodeExpired => "code-expired",
            ProblemType::CodeUsed => "code-used",
            ProblemType::CodeAttemptsExhausted => "code-attempts-exhausted",
            ProblemType::AlreadyRegistered => "already-registered",
            ProblemType::EmailTaken => "email-taken",
            ProblemType::NothingPending => "nothing-pending",
            ProblemType::LoginFailed => "login-failed",
            ProblemType::WrongPassword => "wrong-password",
            ProblemType::EmailMismatch => "email-mismatch",
            ProblemType::SameAsCurrent => "same-as-current",
            ProblemType::CabinetBlocked => "cabinet-blocked",
            ProblemType::HolderNotConfirmed => "holder-not-confirmed",
            ProblemType::LinkProofRejected => "link-proof-rejected",
            ProblemType::AlreadyLinked => "already-linked",
            ProblemType::NotLinked => "not-linked",
            ProblemType::PeriodNotBilled => "period-not-billed",
            ProblemType::InvalidRange => "invalid-range",
            ProblemType::ReadingRejected => "reading-rejected",
            ProblemType::ReadingAlreadySubmitted => "reading-already-submitted",
            ProblemType::ReadingNotChangeable => "reading-not-changeable",
            ProblemType::EstimateRejected => "estimate-rejected",
            ProblemType::IdempotencyKeyReused => "idempotency-key-reused",
            ProblemType::IdempotencyKeyInProgress => "idempotency-key-in-progress",
            ProblemType::CabinetNotBlocked => "cabinet-not-blocked",
            ProblemType::AlreadyAnswered => "already-answered",
            ProblemType::PaymentAmountInvalid => "payment-amount-invalid",
            ProblemType::PaymentSplitInvalid => "payment-split-invalid",
            ProblemType::ReceiptContactMissing => "receipt-contact-missing",
            ProblemType::PaymentDeclined => "payment-declined",
            ProblemType::GatewayUnavailable => "gateway-unavailable",
            ProblemType::PaymentNotYetKnown => "payment-not-yet-known",
            ProblemType::WebhookSignatureInvalid => "webhook-signature-invalid",
            ProblemType::WebhookTimestampOutOfTolerance => "webhook-timestamp-out-of-tolerance",
            ProblemType::BillingRunRefused => "billing-run-refused",
            ProblemType::RefundInvalid => "refund-invalid",
            ProblemType::RefundRefused => "refund-refused",
            ProblemType::AutopayInvalid => "autopay-invalid",
            ProblemType::AutopayConflict => "autopay-conflict",
            ProblemType::ImportInvalid => "import-invalid",
            ProblemType::ImportConflict => "import-conflict",
            ProblemType::Internal => "internal",
            ProblemType::ServiceUnavailable => "service-unavailable",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemType::InvalidRequest => StatusCode::BAD_REQUEST,
            ProblemType::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemType::Forbidden => StatusCode::FORBIDDEN,
            ProblemType::NotFound | ProblemType::NotLinked | ProblemType::PeriodNotBilled => {
                StatusCode::NOT_FOUND
            }
            ProblemType::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemType::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ProblemType::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemType::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemType::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProblemType::CsrfRejected | ProblemType::CabinetBlocked => StatusCode::FORBIDDEN,
            ProblemType::CaptchaFailed
            | ProblemType::PasswordRejected
            | ProblemType::CodeInvalid
            | ProblemType::CodeExpired
            | ProblemType::CodeUsed
            | ProblemType::CodeAttemptsExhausted
            | ProblemType::WrongPassword
            | ProblemType::EmailMismatch
            | ProblemType::SameAsCurrent
            | ProblemType::HolderNotConfirmed
            | ProblemType::LinkProofRejected
            | ProblemType::InvalidRange
            | ProblemType::ReadingRejected
            | ProblemType::EstimateRejected
            | ProblemType::IdempotencyKeyReused
            | ProblemType::PaymentAmountInvalid
            | ProblemType::PaymentSplitInvalid
            | ProblemType::ReceiptContactMissing
            | ProblemType::PaymentDeclined
            | ProblemType::RefundInvalid
            | ProblemType::AutopayInvalid
            | ProblemType::ImportInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::AlreadyRegistered
            | ProblemType::EmailTaken
            | ProblemType::NothingPending
            | ProblemType::AlreadyLinked
            | ProblemType::ReadingAlreadySubmitted
            | ProblemType::ReadingNotChangeable
            | ProblemType::IdempotencyKeyInProgress
            | ProblemType::CabinetNotBlocked
            | ProblemType::AlreadyAnswered
            | ProblemType::PaymentNotYetKnown
            | ProblemType::BillingRunRefused
            | ProblemType::RefundRefused
            | ProblemType::AutopayConflict
            | ProblemType::ImportConflict => StatusCode::CONFLICT,
            ProblemType::LoginFailed => StatusCode::UNAUTHORIZED,
            ProblemType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProblemType::ServiceUnavailable | ProblemType::GatewayUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProblemType::WebhookSignatureInvalid | ProblemType::WebhookTimestampOutOfTolerance => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    /// The English title.
    pub fn title(self) -> &'static str {
        match self {
            ProblemType::InvalidRequest => "The request is invalid",
            ProblemType::Unauthorized => "Authentication required",
            ProblemType::Forbidden => "Not allowed",
            ProblemType::NotFound => "Not found",
            ProblemType::MethodNotAllowed => "Method not allowed",
            ProblemType::NotAcceptable => "Not acceptable",
            ProblemType::PayloadTooLarge => "Request body too large",
            ProblemType::UnsupportedMediaType => "Unsupported media type",
            ProblemType::RateLimited => "Too many attempts",
            ProblemType::CsrfRejected => "Cross-site request refused",
            ProblemType::CaptchaFailed => "Captcha failed",
            ProblemType::PasswordRejected => "Password rejected",
            ProblemType::CodeInvalid => "Invalid code or link",
            ProblemType::CodeExpired => "Code or link expired",
            ProblemType::CodeUsed => "Code or link already used",
            ProblemType::CodeAttemptsExhausted => "Too many wrong codes",
            ProblemType::AlreadyRegistered => "Already registered",
            ProblemType::EmailTaken => "Email already in use",
            ProblemType::NothingPending => "Nothing to confirm",
            ProblemType::LoginFailed => "Login failed",
            ProblemType::WrongPassword => "Wrong current password",
            ProblemType::EmailMismatch => "The addresses do not match",
            ProblemType::SameAsCurrent => "Same as the current value",
            ProblemType::CabinetBlocked => "Cabinet blocked",
            ProblemType::HolderNotConfirmed => "Account holder not confirmed",
            ProblemType::LinkProofRejected => "Link proof rejected",
            ProblemType::AlreadyLinked => "Account already linked",
            ProblemType::NotLinked => "Account not linked",
            ProblemType::PeriodNotBilled => "Period not billed yet",
            ProblemType::InvalidRange => "Invalid range",
            ProblemType::ReadingRejected => "Reading rejected",
            ProblemType::ReadingAlreadySubmitted => "Reading already submitted",
            ProblemType::ReadingNotChangeable => "Reading cannot be changed",
            ProblemType::EstimateRejected => "Cannot estimate",
            ProblemType::IdempotencyKeyReused => "Idempotency key reused",
            ProblemType::IdempotencyKeyInProgress => "Idempotency key in use",
            ProblemType::CabinetNotBlocked => "Cabinet not blocked",
            ProblemType::AlreadyAnswered => "Already answered",
            ProblemType::PaymentAmountInvalid => "Payment amount refused",
            ProblemType::PaymentSplitInvalid => "Payment split refused",
            ProblemType::ReceiptContactMissing => "Receipt contact missing",
            ProblemType::PaymentDeclined => "Payment declined by the gateway",
            ProblemType::GatewayUnavailable => "Payment gateway unavailable",
            ProblemType::PaymentNotYetKnown => "Payment not yet known",
            ProblemType::WebhookSignatureInvalid => "Webhook signature invalid",
            ProblemType::WebhookTimestampOutOfTolerance => "Webhook timestamp out of tolerance",
            ProblemType::BillingRunRefused => "Billing run refused",
            ProblemType::RefundInvalid => "Refund request invalid",
            ProblemType::RefundRefused => "Refund refused",
            ProblemType::AutopayInvalid => "Autopay settings refused",
            ProblemType::AutopayConflict => "Autopay settings changed",
            ProblemType::ImportInvalid => "Import file invalid",
            ProblemType::ImportConflict => "Import conflicts with stored data",
            ProblemType::Internal => "Internal error",
            ProblemType::ServiceUnavailable => "Service temporarily unavailable",
        }
    }

    /// The Russian text shown when the occurrence has nothing more specific to say.
    pub fn default_detail(self) -> &'static str {
        match self {
            ProblemType::InvalidRequest => "Запрос составлен неверно. Проверьте введённые данные.",
            ProblemType::Unauthorized => "Войдите в личный кабинет.",
            ProblemType::Forbidden => "Это действие вам недоступно.",
            ProblemType::NotFound => "Запрошенная страница или запись не найдена.",
            ProblemType::MethodNotAllowed => "Это действие с этой страницей недоступно.",
            ProblemType::NotAcceptable => "Ответ в запрошенном формате недоступен.",
            ProblemType::PayloadTooLarge => "Слишком большой запрос.",
            ProblemType::UnsupportedMediaType => "Данные переданы в неподдерживаемом формате.",
            ProblemType::RateLimited => "Слишком много попыток. Повторите позже.",
            ProblemType::CsrfRejected => {
                "Запрос отклонён: он отправлен не со страницы личного кабинета."
            }
            ProblemType::CaptchaFailed => "Неверно введён код с картинки.",
            ProblemType::PasswordRejected => "Пароль не подходит.",
            ProblemType::CodeInvalid => "Неверный код или ссылка.",
            ProblemType::CodeExpired => "Срок действия кода или ссылки истёк. Запросите новый.",
            ProblemType::CodeUsed => "Этот код или ссылка уже использованы.",
            ProblemType::CodeAttemptsExhausted => {
                "Слишком много неверных попыток. Запросите новый код."
            }
            ProblemType::AlreadyRegistered => {
                "Этот номер уже зарегистрирован. Войдите или восстановите пароль."
            }
            ProblemType::EmailTaken => "Этот адрес уже используется в другом личном кабинете.",
            ProblemType::NothingPending => "Нет ничего, ожидающего подтверждения.",
            ProblemType::LoginFailed => "Неверный логин или пароль.",
            ProblemType::WrongPassword => "Текущий пароль введён неверно.",
            ProblemType::EmailMismatch => "Адреса не совпадают.",
            ProblemType::SameAsCurrent => "Это значение уже указано в личном кабинете.",
            ProblemType::CabinetBlocked => "Личный кабинет заблокирован.",
            ProblemType::HolderNotConfirmed => {
                "Данные не совпадают с данными поставщика. Проверьте номер лицевого счёта и ФИО."
            }
            ProblemType::LinkProofRejected => "Данные не совпадают с данными поставщика.",
            ProblemType::AlreadyLinked => "Этот лицевой счёт уже привязан к вашему кабинету.",
            ProblemType::NotLinked => "Этот лицевой счёт не привязан к вашему кабинету.",
            ProblemType::PeriodNotBilled => {
                "Начисления за этот месяц ещё не выполнены. Загляните позже."
            }
            ProblemType::InvalidRange => "Начало периода позже его окончания.",
            ProblemType::ReadingRejected => "Показания не приняты. Проверьте их.",
            ProblemType::ReadingAlreadySubmitted => {
                "Показания за этот месяц уже переданы. Их можно исправить."
            }
            ProblemType::ReadingNotChangeable => "Эти показания уже нельзя изменить.",
            ProblemType::EstimateRejected => "Рассчитать сумму по этим показаниям нельзя.",
            ProblemType::IdempotencyKeyReused => {
                "Этот ключ повтора уже использован для другого запроса."
            }
            ProblemType::IdempotencyKeyInProgress => {
                "Такой же запрос ещё выполняется. Повторите его через несколько секунд."
            }
            ProblemType::CabinetNotBlocked => "Личный кабинет не заблокирован.",
            ProblemType::AlreadyAnswered => "На этот вопрос уже ответили.",
            ProblemType::PaymentAmountInvalid => "Сумма платежа не подходит.",
            ProblemType::PaymentSplitInvalid => "Распределение платежа по услугам не подходит.",
            ProblemType::ReceiptContactMissing => {
                "Укажите адрес электронной почты или телефон для получения чека."
            }
            ProblemType::PaymentDeclined => {
                "Платёжная система отклонила платёж. Попробуйте позже или другим способом."
            }
            ProblemType::GatewayUnavailable => {
                "Платёжная система временно недоступна. Повторите попытку позже."
            }
            ProblemType::PaymentNotYetKnown => {
                "Платёж ещё не зарегистрирован: повторите уведомление позже."
            }
            ProblemType::WebhookSignatureInvalid => "Подпись уведомления неверна.",
            ProblemType::WebhookTimestampOutOfTolerance => "Уведомление подписано слишком давно.",
            ProblemType::BillingRunRefused => "Начисления за этот период сейчас выполнить нельзя.",
            ProblemType::RefundInvalid => "Заявление на возврат заполнено неверно.",
            ProblemType::RefundRefused => "Возврат по этому заявлению выполнить нельзя.",
            ProblemType::AutopayInvalid => "Настройки автоплатежа заполнены неверно.",
            ProblemType::AutopayConflict => {
                "Настройки автоплатежа изменились на другом устройстве: откройте их заново."
            }
            ProblemType::ImportInvalid => "Файл не загружен: в нём есть ошибки.",
            ProblemType::ImportConflict => {
                "Файл не загружен: он противоречит уже загруженным данным."
            }
            ProblemType::Internal => {
                "Произошла ошибка. Мы уже знаем о ней; повторите попытку позже."
            }
            ProblemType::ServiceUnavailable => {
                "Сервис временно недоступен. Повторите попытку через несколько минут."
            }
        }
    }

    /// The kind with this slug.
    pub fn from_slug(slug: &str) -> Option<ProblemType> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// The kind of error a bare HTTP status stands for (errors raised outside handlers).
    pub fn of_status(status: StatusCode) -> ProblemType {
        match status {
            StatusCode::UNAUTHORIZED => ProblemType::Unauthorized,
            StatusCode::FORBIDDEN => ProblemType::Forbidden,
            StatusCode::NOT_FOUND => ProblemType::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ProblemType::MethodNotAllowed,
            StatusCode::NOT_ACCEPTABLE => ProblemType::NotAcceptable,
            StatusCode::PAYLOAD_TOO_LARGE => ProblemType::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemType::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => ProblemType::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE => ProblemType::ServiceUnavailable,
            s if s.is_server_error() => ProblemType::Internal,
            _ => ProblemType::InvalidRequest,
        }
    }
}

/// One occurrence of an error: a kind and what to tell the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The kind.
    pub kind: ProblemType,
    /// The Russian text; the kind's default when `None`.
    pub detail: Option<String>,
    /// What a parser objected to (English), for `invalid-request`.
    pub reason: Option<String>,
    /// When to try again, for `rate-limited`.
    pub retry_after_seconds: Option<u64>,
    /// The bad rows of an imported file, for `import-invalid`.
    pub errors: Option<Vec<RowError>>,
}

impl Problem {
    /// An occurrence of `kind` with the kind's default text.
    pub fn new(kind: ProblemType) -> Self {
        Self {
            kind,
            detail: None,
            reason: None,
            retry_after_seconds: None,
            errors: None,
        }
    }

    /// An occurrence of `kind` saying `detail` (Russian).
    pub fn with_detail(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self::new(kind).detail(detail)
    }

    /// `rate-limited`, to try again after `seconds`.
    pub fn rate_limited(detail: impl Into<String>, seconds: u64) -> Self {
        let mut p = Self::with_detail(ProblemType::RateLimited, detail);
        p.retry_after_seconds = Some(seconds.max(1));
        p
    }

    /// `service-unavailable` for a failed dependency; `error` goes to the log only.
    pub fn unavailable(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, context, "dependency failed");
        Self::new(ProblemType::ServiceUnavailable)
    }

    /// The same with a specific Russian text.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The body.
    pub fn body(&self) -> ProblemBody {
        ProblemBody {
            kind: format!("/problems/{}", self.kind.slug()),
            title: self.kind.title().to_owned(),
            status: self.kind.status().as_u16(),
            detail: self
                .detail
                .clone()
                .unwrap_or_else(|| self.kind.default_detail().to_owned()),
            reason: self.reason.clone(),
            retry_after_seconds: self.retry_after_seconds,
            errors: self.errors.clone(),
        }
    }
}

/// The error responses of the documented operations, all `application/problem+json`.
#[derive(ApiResponse, Debug)]
pub enum ProblemResponse {
    /// The request is invalid.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<ProblemBody>),
    /// Authentication required.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<ProblemBody>),
    /// Not allowed.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<ProblemBody>),
    /// Not found.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<ProblemBody>),
    /// A conflict with the current state.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<ProblemBody>),
    /// Understood but refused by a rule.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<ProblemBody>),
    /// The request body is over the limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<ProblemBody>),
    /// The body's media type is not accepted.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<ProblemBody>),
    /// Too many attempts.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(
        Json<ProblemBody>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// A bug; logged.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<ProblemBody>),
    /// A dependency failed.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<ProblemBody>),
}

impl From<Problem> for ProblemResponse {
    /// The variant of the problem's status. Handlers never raise 405 or 406 (routing does);
    /// such a problem is answered as `invalid-request` so the body and the status agree.
    fn from(mut problem: Problem) -> Self {
        if matches!(
            problem.kind,
            ProblemType::MethodNotAllowed | ProblemType::NotAcceptable
        ) {
            problem.kind = ProblemType::InvalidRequest;
        }
        let status = problem.kind.status().as_u16();
        let retry_after = problem.retry_after_seconds.unwrap_or(1);
        let body = Json(problem.body());
        match status {
            401 => ProblemResponse::Unauthorized(body),
            403 => ProblemResponse::Forbidden(body),
            404 => ProblemResponse::NotFound(body),
            409 => ProblemResponse::Conflict(body),
            413 => ProblemResponse::PayloadTooLarge(body),
            415 => ProblemResponse::UnsupportedMediaType(body),
            422 => ProblemResponse::Unprocessable(body),
            429 => ProblemResponse::TooManyRequests(body, retry_after),
            500 => ProblemResponse::Internal(body),
            503 => ProblemResponse::Unavailable(body),
            _ => ProblemResponse::BadRequest(body),
        }
    }
}

impl From<Problem> for poem::Error {
    fn from(problem: Problem) -> Self {
        poem::Error::from_response(response(&problem))
    }
}

/// The response for `problem`, with its status and media type.
pub fn response(problem: &Problem) -> Response {
    let body = problem.body();
    let mut resp = body
        .to_json_string()
        .with_status(problem.kind.status())
        .with_content_type(PROBLEM_JSON)
        .into_response();
    if let Some(seconds) = problem.retry_after_seconds {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    resp
}

/// Turns any error that reached the top of the application into a problem response: errors
/// that already are problems pass unchanged, every other one is mapped by its status. A
/// parser's message is kept in `reason`; a server error's text only goes to the log.
pub async fn from_poem_error(err: poem::Error) -> Response {
    let status = err.status();
    let message = err.to_string();
    let resp = err.into_response();
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return resp;
    }
    let kind = ProblemType::of_status(status);
    let mut problem = Problem::new(kind);
    if status.is_server_error() {
        tracing::error!(%status, error = %message, "request failed");
    } else if kind == ProblemType::InvalidRequest && !message.is_empty() {
        problem.reason = Some(message);
    }
    response(&problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn slugs_are_unique_and_statuses_are_errors() {
        let slugs: HashSet<_> = ProblemType::ALL.iter().map(|k| k.slug()).collect();
        assert_eq!(slugs.len(), ProblemType::ALL.len());
        for kind in ProblemType::ALL {
            assert!(kind.status().is_client_error() || kind.status().is_server_error());
            assert!(
                !kind.default_detail().is_ascii(),
                "{kind:?} detail is Russian"
            );
        }
    }

    #[test]
    fn a_bare_status_maps_to_its_generic_kind() {
        // The kinds an error raised outside a handler (routing, parsing, limits) can have.
        let generic = [
            ProblemType::InvalidRequest,
            ProblemType::Unauthorized,
            ProblemType::Forbidden,
            ProblemType::NotFound,
            ProblemType::MethodNotAllowed,
            ProblemType::NotAcceptable,
            ProblemType::PayloadTooLarge,
            ProblemType::UnsupportedMediaType,
            ProblemType::RateLimited,
            ProblemType::Internal,
            ProblemType::ServiceUnavailable,
        ];
        for kind in generic {
            assert_eq!(ProblemType::of_status(kind.status()), kind);
        }
        assert_eq!(
            ProblemType::of_status(StatusCode::BAD_GATEWAY),
            ProblemType::Internal
        );
    }

    #[test]
    fn problem_response_keeps_the_status() {
        for kind in ProblemType::ALL {
            let resp = ProblemResponse::from(Problem::new(kind)).into_response();
            let expected = if [405, 406].contains(&kind.status().as_u16()) {
                StatusCode::BAD_REQUEST
            } else {
                kind.status()
            };
            assert_eq!(resp.status(), expected, "{kind:?}");
            assert_eq!(
                resp.headers().get(header::CONTENT_TYPE).unwrap(),
                PROBLEM_JSON
            );
        }
    }

    #[tokio::test]
    async fn server_errors_hide_their_text() {
        let err = poem::Error::from_string(
            "relation \"x\" does not exist",
            StatusCode::INTERNAL_SERVER_ERROR,
        );
        let resp = from_poem_error(err).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = resp.into_body().into_string().await.unwrap();
        assert!(!body.contains("relation"), "{body}");
        assert!(body.contains("/problems/internal"), "{body}");
    }
}
