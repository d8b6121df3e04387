//! Domain values, each parsed once at the edge ("parse, don't validate"): [`Email`], [`Phone`],
//! [`AccountNumber`], [`PersonName`], identifiers and the small enums the flows share.
//!
//! Every type here has private fields and a fallible `parse`, so the rest of the crate can only
//! ever hold valid values.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::crypto::{from_hex, to_hex};
use crate::errors::UserMessage;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Builds the identifier from its 16 bytes (for example read back from storage).
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// The 16 bytes of the identifier.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// Parses the 32-character lowercase hex form produced by `Display`.
            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                from_hex::<16>(text).map(Self).ok_or(InvalidId)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&to_hex(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

/// The text is not the hex form of an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("identifier must be 32 lowercase hex digits")]
pub struct InvalidId;

id_type!(
    /// Identifies a subscriber's cabinet (one person, any number of linked ЛС).
    SubscriberId
);
id_type!(
    /// Identifies a session for listing and revoking; it is not the session token.
    SessionId
);
id_type!(
    /// Identifies a one-time code or link (a pending registration, a recovery, a contact change).
    ChallengeId
);
id_type!(
    /// Identifies a recorded consent to personal-data processing.
    ConsentId
);
id_type!(
    /// Identifies a subscriber's question to the supplier.
    QuestionId
);
id_type!(
    /// Identifies a back-office operator.
    OperatorId
);
id_type!(
    /// Identifies an operator's API key for listing and revoking; it is not the key itself.
    ApiKeyId
);
id_type!(
    /// Identifies an operator's session for revoking; it is not the session token.
    OperatorSessionId
);

/// Why a text could not be parsed into a domain value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Not an email address of the form `local@domain.tld`.
    #[error("invalid email address")]
    Email,
    /// Not a Russian mobile or landline number (+7 and ten digits).
    #[error("invalid phone number: expected +7 and ten digits")]
    Phone,
    /// Not a personal account number (1 to 20 digits).
    #[error("invalid personal account number: expected 1 to 20 digits")]
    AccountNumber,
    /// Not a person's name (letters, spaces, hyphens, apostrophes and dots, 1 to 200 characters).
    #[error("invalid person name")]
    PersonName,
    /// Empty or too long identifier of a supplier, house, flat or meter.
    #[error("invalid reference: expected 1 to 64 printable characters")]
    Reference,
    /// Not an operator login (3 to 64 characters: Latin letters, digits, `.`, `_`, `-`).
    #[error("invalid operator login: expected 3 to 64 of a-z, 0-9, '.', '_', '-'")]
    OperatorLogin,
}

impl UserMessage for InvalidId {
    fn user_message(&self) -> &'static str {
        "Ссылка или идентификатор повреждены. Начните заново."
    }
}

impl UserMessage for ParseError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Email => "Проверьте адрес электронной почты.",
            Self::Phone => "Укажите номер телефона в формате +7XXXXXXXXXX.",
            Self::AccountNumber => "Номер лицевого счёта должен состоять из цифр.",
            Self::PersonName => "Проверьте фамилию, имя и отчество.",
            Self::Reference => "Проверьте введённые данные.",
            Self::OperatorLogin => {
                "Логин оператора: от 3 до 64 латинских букв, цифр и знаков «.», «_», «-»."
            }
        }
    }
}

/// An email address, trimmed and lowercased so that one mailbox is one login handle.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a non-empty local part of at most 64 characters, a domain
    /// with a dot, no whitespace, 254 characters at most.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let text = text.trim().to_lowercase();
        let (local, domain) = text.split_once('@').ok_or(ParseError::Email)?;
        let valid = !local.is_empty()
            && local.chars().count() <= 64
            && text.chars().count() <= 254
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(text))
        } else {
            Err(ParseError::Email)
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0
            .split_once('@')
            .map_or(self.0.as_str(), |(local, _)| local)
    }

    /// The address with its local part hidden but for the first character, for showing to
    /// an operator: `i***@mail.ru`. The length of the local part is not revealed.
    pub fn masked(&self) -> String {
        let first: String = self.local_part().chars().take(1).collect();
        let domain = self.0.split_once('@').map_or("", |(_, domain)| domain);
        format!("{first}***@{domain}")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Russian phone number in E.164 form: `+7` and ten digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Phone(String);

impl Phone {
    /// Parses `+7 (916) 123-45-67`, `8 916 123 45 67`, `79161234567` and the like: spaces,
    /// hyphens and parentheses are ignored; a leading `8` of an 11-digit number means `+7`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let compact: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '\u{a0}'))
            .collect();
        let (plus, digits) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, compact.as_str()),
        };
        if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::Phone);
        }
        let national = match (plus, &digits[..1]) {
            (_, "7") | (false, "8") => &digits[1..],
            _ => return Err(ParseError::Phone),
        };
        Ok(Self(format!("+7{national}")))
    }

    /// The E.164 form, for example `+79161234567`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The eleven digits without the plus sign.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The number with all but the operator code and the last two digits hidden, for showing
    /// to an operator: `+7 916 ***-**-67`.
    pub fn masked(&self) -> String {
        let digits = self.digits();
        format!("+7 {} ***-**-{}", &digits[1..4], &digits[9..])
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A personal account number (номер лицевого счёта, ЛС): 1 to 20 digits, leading zeros kept.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct AccountNumber(String);

impl AccountNumber {
    /// Parses the digits; spaces and hyphens used for grouping are ignored.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let digits: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        if (1..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(ParseError::AccountNumber)
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but its last four digits hidden, for showing to an operator:
    /// `***4567`. A number of four digits or fewer is hidden entirely (`***`).
    pub fn masked(&self) -> String {
        let len = self.0.len();
        if len > 4 {
            format!("***{}", &self.0[len - 4..])
        } else {
            "***".to_owned()
        }
    }
}

impl fmt::Display for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's name as typed: surname first, then given name and patronymic, in full or as
/// initials ("Иванов Иван Иванович", "Иванов И.И.", "Иванов И И").
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a name: whitespace is collapsed; letters of any script, spaces, hyphens,
    /// apostrophes and dots only; 1 to 200 characters.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let valid = (1..=200).contains(&collapsed.chars().count())
            && collapsed.chars().any(char::is_alphabetic)
            && collapsed
                .chars()
                .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | '’'));
        if valid {
            Ok(Self(collapsed))
        } else {
            Err(ParseError::PersonName)
        }
    }

    /// The name as entered (whitespace collapsed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name split into lowercase parts, with `ё` read as `е` and dots as separators.
    fn parts(&self) -> Vec<String> {
        self.0
            .to_lowercase()
            .replace('ё', "е")
            .split([' ', '.'])
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Whether this name, as typed by a subscriber, identifies `holder` (the name on file).
    ///
    /// The surname must match in full (case and `ё`/`е` ignored). Each further part must match
    /// the holder's part in full or be its initial; glued initials (`ИИ`) count as two initials.
    /// The subscriber must give as many parts as the holder has, except that a holder without a
    /// patronymic matches two parts.
    pub fn matches_holder(&self, holder: &PersonName) -> bool {
        let mut typed = self.parts();
        let on_file = holder.parts();
        if typed.len() == 2 && on_file.len() == 3 && typed[1].chars().count() == 2 {
            let initials: Vec<String> = typed[1].chars().map(String::from).collect();
            typed.truncate(1);
            typed.extend(initials);
        }
        if typed.len() != on_file.len() || typed.is_empty() || typed[0] != on_file[0] {
            return false;
        }
        typed.iter().zip(&on_file).skip(1).all(|(t, f)| {
            t == f || (t.chars().count() == 1 && f.chars().next() == t.chars().next())
        })
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! reference_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        pub struct $name(String);

        impl $name {
            /// Parses a trimmed reference of 1 to 64 printable characters; case is kept.
            pub fn parse(text: &str) -> Result<Self, ParseError> {
                let text = text.trim();
                if (1..=64).contains(&text.chars().count()) && !text.chars().any(char::is_control) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(ParseError::Reference)
                }
            }

            /// The reference as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

reference_type!(
    /// Identifies a utility supplier (энергосбыт, теплоснабжающая организация, водоканал).
    SupplierId
);
reference_type!(
    /// Identifies a house in the supplier's records (a code or a normalised address).
    HouseId
);
reference_type!(
    /// A flat (квартира) within a house; empty-free text such as `12` or `12А`.
    Flat
);
reference_type!(
    /// The serial number of a meter (прибор учёта) installed on an ЛС.
    MeterNumber
);

/// One ЛС at one supplier: ЛС numbers are unique only within a supplier.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct AccountRef {
    /// The supplier that keeps the account.
    pub supplier: SupplierId,
    /// The ЛС number at that supplier.
    pub number: AccountNumber,
}

/// Where a premise is: house and flat.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Address {
    /// The house.
    pub house: HouseId,
    /// The flat; `None` for a private house.
    pub flat: Option<Flat>,
}

/// The most characters in the text of a question or an answer.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Why a text could not be a [`QuestionText`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TextError {
    /// Empty or only whitespace.
    #[error("the text is blank")]
    Blank,
    /// More than [`MAX_TEXT_CHARS`] characters after trimming.
    #[error("the text is longer than {max} characters")]
    TooLong {
        /// The most characters allowed.
        max: usize,
    },
    /// Contains a control character other than a line break or a tab.
    #[error("the text contains control characters")]
    ControlCharacters,
}

impl UserMessage for TextError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Blank => "Введите текст.",
            // The limit is configurable in principle: the caller shows `max` next to it.
            Self::TooLong { .. } => "Текст слишком длинный: не больше 4000 символов.",
            Self::ControlCharacters => "Текст содержит недопустимые символы.",
        }
    }
}

/// The text of a subscriber's question or an operator's answer: trimmed, not blank, at most
/// [`MAX_TEXT_CHARS`] characters (Unicode scalar values), line breaks (`\r\n` and `\r` read as `\n`)
/// and tabs allowed, no other control characters.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct QuestionText(String);

impl QuestionText {
    /// Parses a text as typed.
    pub fn parse(text: &str) -> Result<Self, TextError> {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim();
        if text.is_empty() {
            return Err(TextError::Blank);
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(TextError::TooLong {
                max: MAX_TEXT_CHARS,
            });
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err(TextError::ControlCharacters);
        }
        Ok(Self(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QuestionText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The login of a back-office operator: trimmed and lowercased, 3 to 64 characters of `a-z`,
/// `0-9`, `.`, `_` and `-`. Each login belongs to at most one operator.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct OperatorLogin(String);

impl OperatorLogin {
    /// Parses a login; case is ignored (`Ivanova` and `ivanova` are one login).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let text = text.trim().to_ascii_lowercase();
        let valid = (3..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if valid {
            Ok(Self(text))
        } else {
            Err(ParseError::OperatorLogin)
        }
    }

    /// The normalised login.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OperatorLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name by which a subscriber logs in. Each handle belongs to at most one cabinet.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum LoginHandle {
    /// The ЛС number the cabinet was registered with (seed 003 logs in by ЛС number).
    Account(AccountNumber),
    /// A verified email address.
    Email(Email),
    /// A verified phone number.
    Phone(Phone),
}

impl LoginHandle {
    /// Reads a login typed into one field: with `@` it is an email, with a leading `+` a phone,
    /// otherwise an ЛС number. A phone typed without `+` is read as an ЛС number, so a login
    /// form should offer a phone field or prefix of its own.
    pub fn parse_any(text: &str) -> Result<Self, ParseError> {
        let text = text.trim();
        if text.contains('@') {
            Email::parse(text).map(Self::Email)
        } else if text.starts_with('+') {
            Phone::parse(text).map(Self::Phone)
        } else {
            AccountNumber::parse(text).map(Self::Account)
        }
    }

    /// The handle as text, used for throttling keys and the "password contains login" rule.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Account(n) => n.as_str(),
            Self::Email(e) => e.as_str(),
            Self::Phone(p) => p.as_str(),
        }
    }

    /// The handle partly hidden, for showing to an operator ([`Phone::masked`],
    /// [`Email::masked`], [`AccountNumber::masked`]).
    pub fn masked(&self) -> String {
        match self {
            Self::Account(n) => n.masked(),
            Self::Email(e) => e.masked(),
            Self::Phone(p) => p.masked(),
        }
    }
}

/// Through which channel something happened: recorded in consents and the security log.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Channel {
    /// The web cabinet.
    Web,
    /// A mobile application.
    MobileApp,
    /// An operator acting on the subscriber's request (phone call, office visit).
    Operator,
    /// A programmatic client.
    Api,
}

/// Who is acting and from where; stored with sessions and security events.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The channel.
    pub channel: Channel,
    /// A short description of the device, for example a browser's user agent (at most 200
    /// characters are kept).
    pub device: Option<String>,
}

impl ClientInfo {
    /// A client on `channel` with no device description.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            device: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_handles_hide_all_but_a_hint() {
        let phone = Phone::parse("+7 916 123-45-67").unwrap();
        assert_eq!(phone.masked(), "+7 916 ***-**-67");
        assert_eq!(
            Email::parse("Ivan.Petrov@Mail.ru").unwrap().masked(),
            "i***@mail.ru"
        );
        assert_eq!(
            Email::parse("я@почта.рф").unwrap().masked(),
            "я***@почта.рф"
        );
        assert_eq!(
            AccountNumber::parse("001234567").unwrap().masked(),
            "***4567"
        );
        assert_eq!(AccountNumber::parse("1234").unwrap().masked(), "***");
        assert_eq!(LoginHandle::Phone(phone.clone()).masked(), phone.masked(),);
        for handle in ["+79161234567", "ivan.petrov@mail.ru", "001234567"] {
            let handle = LoginHandle::parse_any(handle).unwrap();
            assert!(!handle.masked().contains(handle.as_str()));
        }
    }

    #[test]
    fn phones_normalise_to_e164() {
        for input in [
            "+7 (916) 123-45-67",
            "8 916 123 45 67",
            "79161234567",
            "+79161234567",
        ] {
            assert_eq!(
                Phone::parse(input).map(|p| p.as_str().to_owned()),
                Ok("+79161234567".into())
            );
        }
        for input in [
            "",
            "+1 916 123 45 67",
            "+8 916 123 45 67",
            "916 123 45 67",
            "+7916123456a",
            "+791612345678",
        ] {
            assert_eq!(Phone::parse(input), Err(ParseError::Phone), "{input}");
        }
        assert_eq!(
            Phone::parse("+79161234567").unwrap().digits(),
            "79161234567"
        );
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let email = Email::parse("  Ivan.Petrov@Mail.RU ").unwrap();
        assert_eq!(email.as_str(), "ivan.petrov@mail.ru");
        assert_eq!(email.local_part(), "ivan.petrov");
        for bad in [
            "",
            "ivan",
            "@mail.ru",
            "ivan@",
            "ivan@mail",
            "iv an@mail.ru",
            "a@b@c.ru",
            "a@.ru",
            "a@mail..ru",
        ] {
            assert_eq!(Email::parse(bad), Err(ParseError::Email), "{bad}");
        }
    }

    #[test]
    fn account_numbers_are_digits() {
        assert_eq!(
            AccountNumber::parse(" 0123 4567-890 ").unwrap().as_str(),
            "01234567890"
        );
        for bad in ["", "12a", "123456789012345678901", "١٢٣"] {
            assert_eq!(
                AccountNumber::parse(bad),
                Err(ParseError::AccountNumber),
                "{bad}"
            );
        }
    }

    #[test]
    fn person_names_collapse_whitespace_and_refuse_digits() {
        assert_eq!(
            PersonName::parse("  Иванов   Иван  ").unwrap().as_str(),
            "Иванов Иван"
        );
        assert!(PersonName::parse("Салтыков-Щедрин М.Е.").is_ok());
        for bad in ["", "  ", "Иванов 1", "...", "<script>"] {
            assert_eq!(PersonName::parse(bad), Err(ParseError::PersonName), "{bad}");
        }
    }

    #[test]
    fn names_match_in_full_or_by_initials() {
        let holder = PersonName::parse("Иванов Иван Фёдорович").unwrap();
        for typed in [
            "иванов иван федорович",
            "Иванов И.Ф.",
            "Иванов И. Ф.",
            "ИВАНОВ И Ф",
            "Иванов ИФ",
            "Иванов Иван Ф.",
        ] {
            assert!(
                PersonName::parse(typed).unwrap().matches_holder(&holder),
                "{typed}"
            );
        }
        for typed in [
            "Петров И.Ф.",
            "Иванов П.Ф.",
            "Иванов",
            "Иванов Иван",
            "Иванов И.Ф.Ф.",
            "Иванова И.Ф.",
        ] {
            assert!(
                !PersonName::parse(typed).unwrap().matches_holder(&holder),
                "{typed}"
            );
        }
        let no_patronymic = PersonName::parse("Smith John").unwrap();
        assert!(
            PersonName::parse("smith j")
                .unwrap()
                .matches_holder(&no_patronymic)
        );
    }

    #[test]
    fn login_handles_are_told_apart() {
        assert!(matches!(
            LoginHandle::parse_any("a@b.ru"),
            Ok(LoginHandle::Email(_))
        ));
        assert!(matches!(
            LoginHandle::parse_any("+79161234567"),
            Ok(LoginHandle::Phone(_))
        ));
        assert!(matches!(
            LoginHandle::parse_any("1234567890123"),
            Ok(LoginHandle::Account(_))
        ));
        assert!(LoginHandle::parse_any("hello").is_err());
    }

    #[test]
    fn question_texts_are_trimmed_bounded_and_printable() {
        let text = QuestionText::parse("  Почему выросла плата?\r\nЛС 123\t ").unwrap();
        assert_eq!(text.as_str(), "Почему выросла плата?\nЛС 123");
        assert_eq!(QuestionText::parse(""), Err(TextError::Blank));
        assert_eq!(QuestionText::parse(" \n\t "), Err(TextError::Blank));
        let longest = "я".repeat(MAX_TEXT_CHARS);
        assert_eq!(QuestionText::parse(&longest).unwrap().as_str(), longest);
        assert_eq!(
            QuestionText::parse(&format!(" {longest} "))
                .unwrap()
                .as_str(),
            longest
        );
        assert_eq!(
            QuestionText::parse(&format!("{longest}я")),
            Err(TextError::TooLong {
                max: MAX_TEXT_CHARS
            })
        );
        assert_eq!(
            QuestionText::parse("звонок\u{7}"),
            Err(TextError::ControlCharacters)
        );
        for e in [
            TextError::Blank,
            TextError::TooLong { max: 1 },
            TextError::ControlCharacters,
        ] {
            assert!(!e.user_message().is_empty());
        }
    }

    #[test]
    fn operator_logins_are_lowercase_latin() {
        assert_eq!(
            OperatorLogin::parse("  Ivanova.A_2-x ").unwrap().as_str(),
            "ivanova.a_2-x"
        );
        for bad in ["", "ab", "иванова", "ivan ova", "a@b", &"a".repeat(65)] {
            assert_eq!(
                OperatorLogin::parse(bad),
                Err(ParseError::OperatorLogin),
                "{bad}"
            );
        }
        assert!(!ParseError::OperatorLogin.user_message().is_empty());
    }

    #[test]
    fn ids_round_trip_through_hex() {
        let id = SubscriberId::from_bytes([0xab; 16]);
        assert_eq!(SubscriberId::parse(&id.to_string()), Ok(id));
        assert_eq!(SubscriberId::parse("zz"), Err(InvalidId));
    }
}
