//! Russian texts of every `identity_core::model::Message`, for SMS ([`render_sms`]) and email
//! ([`render_email`]), and the links they carry ([`LinkBase`]).
//!
//! A link is `{public base URL}{path}?token={token}`, one path per
//! [`Purpose`] ([`link_path`]), each a page of the service outside the API spec:
//!
//! | purpose | path | sent by the core today |
//! |---|---|---|
//! | [`Purpose::ConfirmEmail`] | `/l/confirm-email` | yes (registration, email change) |
//! | [`Purpose::Recovery`] | `/l/recover` | yes (recovery by email) |
//! | [`Purpose::Registration`] | `/l/register` | no (registration confirms by SMS code) |
//! | [`Purpose::ChangePhone`] | `/l/change-phone` | no (a new phone confirms by SMS code) |
//!
//! Every `match` here names each variant (no catch-all arm), so a new message or purpose in
//! identity-core fails to compile until it has its texts.

use identity_core::model::{Message, Purpose};
use time::Duration;

use crate::store::{KIND_CODE, KIND_LINK, KIND_NOTICE};

/// The signature under every email.
pub(crate) const SIGNATURE: &str = "С уважением,\nЛичный кабинет абонента";

/// The public base URL links start with (for example `https://lk.example.ru` or
/// `http://127.0.0.1:8080`), without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkBase {
    base: String,
}

impl LinkBase {
    /// Links under `public_url`; trailing slashes are dropped.
    pub fn new(public_url: &str) -> Self {
        Self {
            base: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The base, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// The link carrying `token` for `purpose`: `{base}{link_path(purpose)}?token={token}`
    /// (the token percent-encoded; the core's tokens are hex, which needs no encoding).
    pub fn url(&self, purpose: Purpose, token: &str) -> String {
        format!(
            "{}{}?token={}",
            self.base,
            link_path(purpose),
            percent_encode(token)
        )
    }
}

/// The path of the page a link for `purpose` opens (see the module docs).
pub fn link_path(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Registration => "/l/register",
        Purpose::ConfirmEmail => "/l/confirm-email",
        Purpose::Recovery => "/l/recover",
        Purpose::ChangePhone => "/l/change-phone",
    }
}

/// An email's subject and plain-text body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailText {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// The outbox `kind` of `message`: [`KIND_CODE`], [`KIND_LINK`] or [`KIND_NOTICE`].
pub fn message_kind(message: &Message) -> &'static str {
    match message {
        Message::Code { .. } => KIND_CODE,
        Message::Link { .. } => KIND_LINK,
        Message::AlreadyRegistered
        | Message::PasswordChanged
        | Message::EmailChangeRequested
        | Message::PhoneChanged
        | Message::CabinetBlocked
        | Message::QuestionAnswered { .. } => KIND_NOTICE,
    }
}

/// The SMS text of `message` (links built under `links`).
///
/// Codes read like «Код подтверждения регистрации: 123456. Никому не сообщайте его. Действует
/// 10 минут.»
pub fn render_sms(message: &Message, links: &LinkBase) -> String {
    match message {
        Message::Code {
            code,
            purpose,
            valid_for,
        } => format!(
            "{}: {}. Никому не сообщайте его. Действует {}.",
            code_title(*purpose),
            code.expose(),
            ru_duration(*valid_for)
        ),
        Message::Link {
            token,
            purpose,
            valid_for,
        } => format!(
            "{} по ссылке: {} Ссылка действует {}. Никому её не пересылайте.",
            link_action(*purpose),
            links.url(*purpose, token.expose()),
            ru_duration(*valid_for)
        ),
        Message::AlreadyRegistered => "Кто-то пытается зарегистрировать личный кабинет с этим \
             номером, но кабинет у вас уже есть. Если это вы, войдите или восстановите пароль. \
             Если нет, ничего не делайте."
            .to_owned(),
        Message::PasswordChanged => "Пароль от личного кабинета изменён. Если это сделали не \
             вы, восстановите пароль и заблокируйте кабинет."
            .to_owned(),
        Message::EmailChangeRequested => "Запрошена смена адреса почты личного кабинета. Если \
             это сделали не вы, смените пароль и заблокируйте кабинет."
            .to_owned(),
        Message::PhoneChanged => "Номер телефона в личном кабинете изменён, на этот номер \
             сообщения больше не придут. Если это сделали не вы, восстановите доступ."
            .to_owned(),
        Message::CabinetBlocked => "Личный кабинет заблокирован, все сеансы завершены. Чтобы \
             снова войти, восстановите пароль."
            .to_owned(),
        Message::QuestionAnswered { topic, .. } => format!(
            "Получен ответ на ваш вопрос по теме «{}». Посмотрите его в личном кабинете.",
            topic.label()
        ),
    }
}

/// The email (subject and body) of `message` (links built under `links`).
pub fn render_email(message: &Message, links: &LinkBase) -> EmailText {
    let (subject, text) = match message {
        Message::Code {
            code,
            purpose,
            valid_for,
        } => (
            code_title(*purpose).to_owned(),
            format!(
                "{}: {}\n\nКод действует {}. Никому не сообщайте его: сотрудники поставщика \
                 никогда не спрашивают коды.\n\nЕсли вы ничего не запрашивали, просто \
                 проигнорируйте это письмо.",
                code_title(*purpose),
                code.expose(),
                ru_duration(*valid_for)
            ),
        ),
        Message::Link {
            token,
            purpose,
            valid_for,
        } => (
            link_subject(*purpose).to_owned(),
            format!(
                "{} по ссылке:\n\n{}\n\nСсылка действует {} и сработает один раз. Никому её не \
                 пересылайте.\n\nЕсли вы ничего не запрашивали, просто проигнорируйте это \
                 письмо.",
                link_action(*purpose),
                links.url(*purpose, token.expose()),
                ru_duration(*valid_for)
            ),
        ),
        Message::AlreadyRegistered => (
            "Попытка повторной регистрации".to_owned(),
            "Кто-то пытается зарегистрировать личный кабинет с этим адресом почты, номером \
             телефона или лицевым счётом, но кабинет у вас уже есть.\n\nЕсли это вы, войдите в \
             кабинет или восстановите пароль. Если нет, ничего не делайте: новый кабинет не \
             создан."
                .to_owned(),
        ),
        Message::PasswordChanged => (
            "Пароль изменён".to_owned(),
            "Пароль от вашего личного кабинета изменён.\n\nЕсли это сделали не вы, сразу \
             восстановите пароль и заблокируйте кабинет в настройках безопасности."
                .to_owned(),
        ),
        Message::EmailChangeRequested => (
            "Запрошена смена адреса почты".to_owned(),
            "В вашем личном кабинете запрошена смена адреса электронной почты. Новый адрес \
             начнёт действовать после подтверждения по ссылке из письма, отправленного на \
             него.\n\nЕсли это сделали не вы, смените пароль и заблокируйте кабинет."
                .to_owned(),
        ),
        Message::PhoneChanged => (
            "Номер телефона изменён".to_owned(),
            "Номер телефона в вашем личном кабинете изменён.\n\nЕсли это сделали не вы, \
             восстановите доступ к кабинету."
                .to_owned(),
        ),
        Message::CabinetBlocked => (
            "Личный кабинет заблокирован".to_owned(),
            "Ваш личный кабинет заблокирован, все сеансы завершены.\n\nЧтобы снова войти, \
             восстановите пароль: после восстановления кабинет разблокируется."
                .to_owned(),
        ),
        Message::QuestionAnswered { topic, .. } => (
            "Ответ на ваш вопрос".to_owned(),
            format!(
                "Поставщик ответил на ваш вопрос по теме «{}». Ответ можно прочитать в \
                 личном кабинете, в разделе «Вопросы».",
                topic.label()
            ),
        ),
    };
    EmailText {
        subject,
        body: format!("Здравствуйте!\n\n{text}\n\n{SIGNATURE}"),
    }
}

/// The title of a code for `purpose` («Код подтверждения регистрации»).
fn code_title(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Registration => "Код подтверждения регистрации",
        Purpose::ConfirmEmail => "Код подтверждения адреса почты",
        Purpose::Recovery => "Код для восстановления пароля",
        Purpose::ChangePhone => "Код подтверждения нового номера",
    }
}

/// What following a link for `purpose` does, as an imperative («Восстановите пароль»).
fn link_action(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Registration => "Завершите регистрацию",
        Purpose::ConfirmEmail => "Подтвердите адрес электронной почты",
        Purpose::Recovery => "Восстановите пароль",
        Purpose::ChangePhone => "Подтвердите новый номер телефона",
    }
}

/// The email subject of a link for `purpose`.
fn link_subject(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Registration => "Завершение регистрации",
        Purpose::ConfirmEmail => "Подтверждение адреса электронной почты",
        Purpose::Recovery => "Восстановление пароля",
        Purpose::ChangePhone => "Подтверждение нового номера телефона",
    }
}

/// `d` in Russian, in the accusative that follows «действует»: «1 минуту», «24 часа», «10
/// минут», «2 дня». The largest whole unit among days (from two days on: a day reads «24 часа»),
/// hours, minutes and seconds; a negative duration reads as zero.
pub fn ru_duration(d: Duration) -> String {
    let seconds = d.whole_seconds().max(0);
    let (n, forms) = if seconds >= 2 * 86_400 && seconds % 86_400 == 0 {
        (seconds / 86_400, ["день", "дня", "дней"])
    } else if seconds >= 3_600 && seconds % 3_600 == 0 {
        (seconds / 3_600, ["час", "часа", "часов"])
    } else if seconds >= 60 && seconds % 60 == 0 {
        (seconds / 60, ["минуту", "минуты", "минут"])
    } else {
        (seconds, ["секунду", "секунды", "секунд"])
    };
    format!("{n} {}", plural(n, forms))
}

/// The form of a noun after the number `n`: `[one, few, many]` as in 1 минуту, 2 минуты, 5
/// минут (11–14 take `many`).
fn plural(n: i64, [one, few, many]: [&'static str; 3]) -> &'static str {
    let (last, last_two) = (n % 10, n % 100);
    if last == 1 && last_two != 11 {
        one
    } else if (2..=4).contains(&last) && !(12..=14).contains(&last_two) {
        few
    } else {
        many
    }
}

/// `text` with every byte outside the URL-unreserved set (`A–Z a–z 0–9 - . _ ~`) written as
/// `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use identity_core::Secret;
    use identity_core::domain::QuestionId;
    use identity_core::model::QuestionTopic;

    use super::*;

    const PURPOSES: [Purpose; 4] = [
        Purpose::Registration,
        Purpose::ConfirmEmail,
        Purpose::Recovery,
        Purpose::ChangePhone,
    ];
    const TOKEN: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

    fn links() -> LinkBase {
        LinkBase::new("https://lk.example.ru/")
    }

    /// Every message: a code and a link for every purpose, and every notice. The match keeps
    /// this list complete when identity-core adds a variant.
    fn every_message() -> Vec<Message> {
        let mut all = Vec::new();
        for purpose in PURPOSES {
            all.push(Message::Code {
                code: Secret::from("123456"),
                purpose,
                valid_for: Duration::minutes(10),
            });
            all.push(Message::Link {
                token: Secret::from(TOKEN),
                purpose,
                valid_for: Duration::hours(24),
            });
        }
        all.extend([
            Message::AlreadyRegistered,
            Message::PasswordChanged,
            Message::EmailChangeRequested,
            Message::PhoneChanged,
            Message::CabinetBlocked,
            Message::QuestionAnswered {
                question: QuestionId::from_bytes([3; 16]),
                topic: QuestionTopic::Charges,
            },
        ]);
        for m in &all {
            match m {
                Message::Code { .. }
                | Message::Link { .. }
                | Message::AlreadyRegistered
                | Message::PasswordChanged
                | Message::EmailChangeRequested
                | Message::PhoneChanged
                | Message::CabinetBlocked
                | Message::QuestionAnswered { .. } => {}
            }
        }
        all
    }

    fn is_russian(text: &str) -> bool {
        text.chars().filter(|c| ('а'..='я').contains(c)).count() >= 20
    }

    #[test]
    fn every_message_renders_russian_sms_and_email() {
        for m in every_message() {
            let sms = render_sms(&m, &links());
            let email = render_email(&m, &links());
            assert!(is_russian(&sms), "{m:?}: {sms}");
            assert!(is_russian(&email.body), "{m:?}: {}", email.body);
            assert!(!email.subject.trim().is_empty(), "{m:?}");
            assert!(email.body.starts_with("Здравствуйте!"), "{m:?}");
            assert!(!sms.contains('\n'), "{m:?}: an SMS is one line");
            match &m {
                Message::Code {
                    purpose, valid_for, ..
                } => {
                    assert_eq!(message_kind(&m), KIND_CODE);
                    for text in [&sms, &email.body] {
                        assert!(text.contains("123456"), "{text}");
                        assert!(text.contains("10 минут"), "{text}");
                        assert!(text.contains(code_title(*purpose)), "{text}");
                    }
                    assert_eq!(*valid_for, Duration::minutes(10));
                }
                Message::Link { purpose, .. } => {
                    assert_eq!(message_kind(&m), KIND_LINK);
                    let url = format!("https://lk.example.ru{}?token={TOKEN}", link_path(*purpose));
                    for text in [&sms, &email.body] {
                        assert!(text.contains(&url), "{text}");
                        assert!(text.contains("24 часа"), "{text}");
                    }
                }
                Message::AlreadyRegistered
                | Message::PasswordChanged
                | Message::EmailChangeRequested
                | Message::PhoneChanged
                | Message::CabinetBlocked
                | Message::QuestionAnswered { .. } => {
                    assert_eq!(message_kind(&m), KIND_NOTICE);
                    assert!(!sms.contains("http"), "{sms}");
                }
            }
        }
    }

    #[test]
    fn the_code_sms_reads_as_specified() {
        let m = Message::Code {
            code: Secret::from("123456"),
            purpose: Purpose::Registration,
            valid_for: Duration::minutes(10),
        };
        assert_eq!(
            render_sms(&m, &links()),
            "Код подтверждения регистрации: 123456. Никому не сообщайте его. Действует 10 минут."
        );
    }

    #[test]
    fn each_purpose_has_its_own_link_path_and_texts() {
        let paths: std::collections::HashSet<_> = PURPOSES.iter().map(|p| link_path(*p)).collect();
        assert_eq!(paths.len(), PURPOSES.len());
        assert_eq!(link_path(Purpose::ConfirmEmail), "/l/confirm-email");
        assert_eq!(link_path(Purpose::Recovery), "/l/recover");
        let titles: std::collections::HashSet<_> =
            PURPOSES.iter().map(|p| code_title(*p)).collect();
        assert_eq!(titles.len(), PURPOSES.len());
        let subjects: std::collections::HashSet<_> =
            PURPOSES.iter().map(|p| link_subject(*p)).collect();
        assert_eq!(subjects.len(), PURPOSES.len());
    }

    #[test]
    fn link_base_drops_trailing_slashes_and_encodes_tokens() {
        let base = LinkBase::new("http://127.0.0.1:8080//");
        assert_eq!(base.as_str(), "http://127.0.0.1:8080");
        assert_eq!(
            base.url(Purpose::Recovery, "ab cd/&="),
            "http://127.0.0.1:8080/l/recover?token=ab%20cd%2F%26%3D"
        );
        assert_eq!(
            base.url(Purpose::ConfirmEmail, "Aa0-._~"),
            "http://127.0.0.1:8080/l/confirm-email?token=Aa0-._~"
        );
    }

    #[test]
    fn durations_read_in_russian() {
        let cases = [
            (Duration::minutes(1), "1 минуту"),
            (Duration::minutes(3), "3 минуты"),
            (Duration::minutes(10), "10 минут"),
            (Duration::minutes(11), "11 минут"),
            (Duration::minutes(21), "21 минуту"),
            (Duration::minutes(90), "90 минут"),
            (Duration::HOUR, "1 час"),
            (Duration::hours(24), "24 часа"),
            (Duration::hours(48), "2 дня"),
            (Duration::hours(12), "12 часов"),
            (Duration::hours(22), "22 часа"),
            (Duration::days(2), "2 дня"),
            (Duration::days(5), "5 дней"),
            (Duration::seconds(45), "45 секунд"),
            (Duration::seconds(-5), "0 секунд"),
        ];
        for (d, text) in cases {
            assert_eq!(ru_duration(d), text);
        }
    }

    #[test]
    fn texts_never_leak_a_secret_of_another_message() {
        // A notice carries no code or link; a code message carries no link.
        let code = Message::Code {
            code: Secret::from("987654"),
            purpose: Purpose::Recovery,
            valid_for: Duration::minutes(10),
        };
        assert!(!render_sms(&code, &links()).contains("http"));
        assert!(!render_email(&code, &links()).body.contains("http"));
    }
}
