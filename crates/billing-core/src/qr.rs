//! The payment QR payload of ГОСТ Р 56042-2014 and its parser.
//!
//! The payload is text: the header `ST0001`, an encoding digit (`1` Windows-1251, `2` UTF-8,
//! `3` KOI8-R) and a separator character, then `key=value` pairs joined by the separator.
//! The mandatory pairs come first, in this order: `Name`, `PersonalAcc`, `BankName`, `BIC`,
//! `CorrespAcc`. Optional pairs follow. Keys are case-sensitive.
//!
//! ```text
//! ST00012|Name=ПАО «Энергосбыт»|PersonalAcc=40702810200000000001|BankName=ПАО Сбербанк|BIC=044525225|CorrespAcc=30101810400000000225|Sum=123456
//! ```
//!
//! [`QrPayload`] builds a payload that always encodes: every setter checks its value, so a
//! [`QrPayload`] in hand holds
//! - a mandatory block ([`QrPayload::mandatory_block_bytes`]) of at most
//!   [`MANDATORY_BLOCK_MAX_BYTES`] bytes;
//! - values without control characters or line breaks, none of them empty;
//! - a separator that occurs in no value — the first of the separator candidates
//!   ([`DEFAULT_SEPARATORS`] unless [`QrPayload::separator_candidates`] says otherwise) that no
//!   value contains;
//! - `Sum` and `AddAmount` as positive whole kopecks, digits only.
//!
//! We always produce UTF-8 (encoding digit `2`). [`parse`] reads any of the three encoding
//! digits from text that is already decoded.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use time::Date;

use crate::money::Money;
use crate::period::Period;
use crate::requisites::{BankDetails, Inn, Kpp, OrgName, Requisites, is_forbidden_char};

/// The format identifier and version that starts every payload.
pub const HEADER: &str = "ST0001";

/// The most bytes the mandatory block may take (ГОСТ Р 56042-2014).
///
/// The block counted is the prefix of the payload from `S` of the header to the last character
/// of the `CorrespAcc` value: the header `ST0001`, the encoding digit, the separator, the five
/// mandatory `key=value` pairs and the four separators between them — not the separator that
/// follows `CorrespAcc` when optional pairs come next. Bytes are UTF-8 bytes: a Cyrillic letter
/// takes 2. Counting the header is the stricter reading; a payload that passes it passes the
/// looser reading too.
pub const MANDATORY_BLOCK_MAX_BYTES: usize = 300;

/// The separators tried in order when none is configured: `|` (the usual one), then characters
/// that rarely occur in names and addresses. ГОСТ Р 56042-2014 allows any character that does not
/// occur in the values; all of these are one byte in every encoding.
pub const DEFAULT_SEPARATORS: [char; 5] = ['|', '#', ';', '~', '^'];

/// The most characters of `Purpose` (ГОСТ Р 56042-2014, table 1: 210).
pub const PURPOSE_MAX_CHARS: usize = 210;

/// The most digits of `Sum` (ГОСТ Р 56042-2014, table 1: 18).
pub const SUM_MAX_DIGITS: usize = 18;

/// The mandatory keys, in the order the payload must give them.
pub const MANDATORY_KEYS: [&str; 5] = ["Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc"];

/// The character encoding a payload declares with its digit after `ST0001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `1`: Windows-1251.
    Windows1251,
    /// `2`: UTF-8 — the only one [`QrPayload`] produces.
    Utf8,
    /// `3`: KOI8-R.
    Koi8R,
}

impl Encoding {
    /// The digit of the header.
    #[must_use]
    pub fn digit(self) -> char {
        match self {
            Encoding::Windows1251 => '1',
            Encoding::Utf8 => '2',
            Encoding::Koi8R => '3',
        }
    }

    /// The encoding of a header digit.
    #[must_use]
    pub fn from_digit(digit: char) -> Option<Encoding> {
        match digit {
            '1' => Some(Encoding::Windows1251),
            '2' => Some(Encoding::Utf8),
            '3' => Some(Encoding::Koi8R),
            _ => None,
        }
    }
}

/// The optional keys [`QrPayload`] has a typed setter for, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OptionalKey {
    /// `PayeeINN`: the payee's ИНН.
    PayeeInn,
    /// `KPP`: the payee's КПП.
    Kpp,
    /// `Sum`: the amount in kopecks.
    Sum,
    /// `Purpose`: the purpose of the payment.
    Purpose,
    /// `PersAcc`: the payer's personal account (ЛС) at the supplier.
    PersAcc,
    /// `LastName`: the payer's last name.
    LastName,
    /// `FirstName`: the payer's first name.
    FirstName,
    /// `MiddleName`: the payer's patronymic.
    MiddleName,
    /// `PayerAddress`: the payer's address.
    PayerAddress,
    /// `PaymPeriod`: the billed period, `MMYYYY`.
    PaymPeriod,
    /// `PaymTerm`: the due date, `dd.MM.yyyy`.
    PaymTerm,
    /// `CounterId`: the meter number.
    CounterId,
    /// `CounterVal`: the meter reading.
    CounterVal,
    /// `AddAmount`: an additional amount (insurance, a voluntary payment) in kopecks.
    AddAmount,
    /// `Category`: the payer's category (benefits).
    Category,
    /// `TechCode`: the kind of payment, two digits (`02`: housing and utilities).
    TechCode,
}

impl OptionalKey {
    /// Every key, in the order they are written.
    pub const ALL: [OptionalKey; 16] = [
        OptionalKey::PayeeInn,
        OptionalKey::Kpp,
        OptionalKey::Sum,
        OptionalKey::Purpose,
        OptionalKey::PersAcc,
        OptionalKey::LastName,
        OptionalKey::FirstName,
        OptionalKey::MiddleName,
        OptionalKey::PayerAddress,
        OptionalKey::PaymPeriod,
        OptionalKey::PaymTerm,
        OptionalKey::CounterId,
        OptionalKey::CounterVal,
        OptionalKey::AddAmount,
        OptionalKey::Category,
        OptionalKey::TechCode,
    ];

    /// The key as written in the payload (case-sensitive).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            OptionalKey::PayeeInn => "PayeeINN",
            OptionalKey::Kpp => "KPP",
            OptionalKey::Sum => "Sum",
            OptionalKey::Purpose => "Purpose",
            OptionalKey::PersAcc => "PersAcc",
            OptionalKey::LastName => "LastName",
            OptionalKey::FirstName => "FirstName",
            OptionalKey::MiddleName => "MiddleName",
            OptionalKey::PayerAddress => "PayerAddress",
            OptionalKey::PaymPeriod => "PaymPeriod",
            OptionalKey::PaymTerm => "PaymTerm",
            OptionalKey::CounterId => "CounterId",
            OptionalKey::CounterVal => "CounterVal",
            OptionalKey::AddAmount => "AddAmount",
            OptionalKey::Category => "Category",
            OptionalKey::TechCode => "TechCode",
        }
    }

    /// The key of a name, exactly as written (case-sensitive).
    #[must_use]
    pub fn from_name(name: &str) -> Option<OptionalKey> {
        OptionalKey::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for OptionalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `TechCode` of ГОСТ Р 56042-2014 (appendix): the kind of payment, `01`–`15`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TechCode(u8);

impl TechCode {
    /// `02`: housing and utilities (ЖКУ) — the code of a utility bill.
    pub const HOUSING_AND_UTILITIES: TechCode = TechCode(2);

    /// The code `number` (1–15), or `None` outside the range.
    #[must_use]
    pub fn new(number: u8) -> Option<TechCode> {
        (1..=15).contains(&number).then_some(TechCode(number))
    }

    /// The code as written: two digits.
    #[must_use]
    pub fn code(self) -> String {
        format!("{:02}", self.0)
    }
}

/// Why a payload could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The mandatory block is longer than [`MANDATORY_BLOCK_MAX_BYTES`]: shorten the payee or bank
    /// name.
    #[error("mandatory block is {bytes} bytes, at most {max} are allowed")]
    MandatoryBlockTooLong {
        /// The size of the block in bytes.
        bytes: usize,
        /// The most bytes allowed.
        max: usize,
    },
    /// Every separator candidate occurs in some value, so no separator can be chosen.
    #[error("every separator candidate ({candidates}) occurs in a value")]
    NoSeparatorAvailable {
        /// The candidates tried.
        candidates: String,
    },
    /// A value contains a control character or a line break.
    #[error("value of {key} contains a control character or a line break")]
    ControlCharacter {
        /// The key.
        key: String,
    },
    /// A value is empty (omit the key instead).
    #[error("value of {key} is empty")]
    EmptyValue {
        /// The key.
        key: String,
    },
    /// A value is longer than its field allows.
    #[error("value of {key} has {chars} characters, at most {max} are allowed")]
    TooLong {
        /// The key.
        key: String,
        /// The number of characters given.
        chars: usize,
        /// The most characters allowed.
        max: usize,
    },
    /// `Sum` or `AddAmount` is zero or negative: a bill with nothing to pay (an advance) has no
    /// `Sum` — omit it.
    #[error("{key} must be positive, got {amount}")]
    NonPositiveAmount {
        /// The key.
        key: String,
        /// The amount given.
        amount: Money,
    },
    /// `Sum` or `AddAmount` has more than [`SUM_MAX_DIGITS`] digits in kopecks.
    #[error("{key} {amount} does not fit {SUM_MAX_DIGITS} digits of kopecks")]
    AmountTooLarge {
        /// The key.
        key: String,
        /// The amount given.
        amount: Money,
    },
    /// The meter reading is negative.
    #[error("meter reading {0} is negative")]
    NegativeCounterValue(Decimal),
    /// The due date is outside the years 1000–9999 that `dd.MM.yyyy` can express.
    #[error("payment term {0} cannot be written as dd.MM.yyyy")]
    DateOutOfRange(Date),
    /// An extra key is empty, not ASCII letters and digits, or one of the keys that have a typed
    /// setter (or a mandatory key).
    #[error("'{0}' cannot be used as an extra key")]
    InvalidExtraKey(String),
    /// A separator candidate is not ASCII punctuation, or is `=`, or the list is empty.
    #[error("separator candidates must be ASCII punctuation other than '=', got '{0}'")]
    InvalidSeparatorCandidate(String),
}

impl QrError {
    /// The message in Russian, for the operator who issues payment documents.
    #[must_use]
    pub fn russian_message(&self) -> String {
        match self {
            QrError::MandatoryBlockTooLong { bytes, max } => format!(
                "Обязательные реквизиты QR-кода занимают {bytes} байт, допускается не более {max}: сократите наименование получателя или банка"
            ),
            QrError::NoSeparatorAvailable { candidates } => format!(
                "Все допустимые разделители ({candidates}) встречаются в реквизитах платежа: уберите один из этих символов из значений"
            ),
            QrError::ControlCharacter { key } => {
                format!("Реквизит {key} содержит перевод строки или управляющий символ")
            }
            QrError::EmptyValue { key } => format!("Реквизит {key} пуст"),
            QrError::TooLong { key, chars, max } => {
                format!(
                    "Реквизит {key} слишком длинный: {chars} символов, допускается не более {max}"
                )
            }
            QrError::NonPositiveAmount { key, amount } => {
                format!(
                    "Сумма {key} должна быть больше нуля, указано {}",
                    amount.to_russian()
                )
            }
            QrError::AmountTooLarge { key, amount } => {
                format!("Сумма {key} слишком велика: {}", amount.to_russian())
            }
            QrError::NegativeCounterValue(v) => {
                format!("Показание счётчика не может быть отрицательным: {v}")
            }
            QrError::DateOutOfRange(d) => {
                format!("Срок оплаты {d} нельзя записать в виде ДД.ММ.ГГГГ")
            }
            QrError::InvalidExtraKey(k) => {
                format!("«{k}» нельзя использовать как дополнительный реквизит")
            }
            QrError::InvalidSeparatorCandidate(c) => {
                format!(
                    "Разделителем может быть только знак препинания ASCII, кроме «=»; указано «{c}»"
                )
            }
        }
    }
}

/// Checks a text value: not empty, no control characters or line breaks.
fn check_text(key: &str, value: &str) -> Result<(), QrError> {
    if value.is_empty() {
        return Err(QrError::EmptyValue {
            key: key.to_owned(),
        });
    }
    if value.chars().any(is_forbidden_char) {
        return Err(QrError::ControlCharacter {
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// Positive whole kopecks with at most [`SUM_MAX_DIGITS`] digits.
fn kopecks_text(key: OptionalKey, amount: Money) -> Result<String, QrError> {
    if !amount.is_positive() {
        return Err(QrError::NonPositiveAmount {
            key: key.as_str().to_owned(),
            amount,
        });
    }
    let text = amount.kopecks().map(|k| k.to_string()).unwrap_or_default();
    if text.is_empty() || text.len() > SUM_MAX_DIGITS {
        return Err(QrError::AmountTooLarge {
            key: key.as_str().to_owned(),
            amount,
        });
    }
    Ok(text)
}

/// A ГОСТ Р 56042-2014 payment QR payload under construction; it always encodes.
///
/// Setters consume the payload and return it (or an error that names the key), so they chain
/// with `?`. Setting a key twice keeps the last value. Optional pairs are written in the order
/// of [`OptionalKey::ALL`], then the extra pairs in the order they were added.
///
/// ```
/// use billing_core::money::Money;
/// use billing_core::period::Period;
/// use billing_core::qr::{QrPayload, TechCode, parse};
/// use billing_core::requisites::{BankDetails, BankName, Bic, CorrespAcc, OrgName, PersonalAcc};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bank = BankDetails::new(
///     PersonalAcc::parse("40702810200000000001")?,
///     BankName::parse("ПАО Сбербанк")?,
///     Bic::parse("044525225")?,
///     CorrespAcc::parse("30101810400000000225")?,
/// )?;
/// let qr = QrPayload::new(&OrgName::parse("ООО «Свет | Тепло»")?, &bank)?
///     .sum(Money::from_kopecks(123_456))?
///     .pers_acc("1234567890")?
///     .paym_period(Period::new(2026, 1)?)
///     .tech_code(TechCode::HOUSING_AND_UTILITIES);
/// // The name contains '|', so the next candidate separator, '#', is used.
/// assert_eq!(
///     qr.encode(),
///     "ST00012#Name=ООО «Свет | Тепло»#PersonalAcc=40702810200000000001#BankName=ПАО Сбербанк\
///      #BIC=044525225#CorrespAcc=30101810400000000225#Sum=123456#PersAcc=1234567890\
///      #PaymPeriod=012026#TechCode=02"
/// );
/// let parsed = parse(&qr.encode())?;
/// assert_eq!(parsed.name(), "ООО «Свет | Тепло»");
/// assert_eq!(parsed.get("Sum"), Some("123456"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrPayload {
    mandatory: [String; 5],
    optional: BTreeMap<OptionalKey, String>,
    extra: Vec<(String, String)>,
    candidates: Vec<char>,
    separator: char,
}

impl QrPayload {
    /// A payload with the mandatory block: the payee's name and bank details. Fails with
    /// [`QrError::MandatoryBlockTooLong`] if the block exceeds [`MANDATORY_BLOCK_MAX_BYTES`],
    /// then with [`QrError::NoSeparatorAvailable`] if the two names contain every default
    /// separator.
    pub fn new(name: &OrgName, bank: &BankDetails) -> Result<QrPayload, QrError> {
        let payload = QrPayload {
            mandatory: [
                name.as_str().to_owned(),
                bank.personal_acc().as_str().to_owned(),
                bank.bank_name().as_str().to_owned(),
                bank.bic().as_str().to_owned(),
                bank.corresp_acc().as_str().to_owned(),
            ],
            optional: BTreeMap::new(),
            extra: Vec::new(),
            candidates: DEFAULT_SEPARATORS.to_vec(),
            separator: DEFAULT_SEPARATORS[0],
        };
        // Mandatory values never contain control characters or are empty: the requisites types
        // refuse them. Every candidate is one byte, so the size does not depend on the choice.
        let bytes = payload.mandatory_block_bytes();
        if bytes > MANDATORY_BLOCK_MAX_BYTES {
            return Err(QrError::MandatoryBlockTooLong {
                bytes,
                max: MANDATORY_BLOCK_MAX_BYTES,
            });
        }
        payload.reseparated()
    }

    /// A payload for the supplier: the mandatory block from its requisites, plus `PayeeINN` and,
    /// for a legal entity, `KPP`.
    pub fn for_supplier(requisites: &Requisites) -> Result<QrPayload, QrError> {
        let qr = QrPayload::new(requisites.name(), requisites.bank())?.payee_inn(requisites.inn());
        Ok(match requisites.kpp() {
            Some(kpp) => qr.kpp(kpp),
            None => qr,
        })
    }

    /// Replaces the separator candidates (tried in order). Each must be ASCII punctuation other
    /// than `=`; the list must not be empty.
    pub fn separator_candidates(mut self, candidates: &[char]) -> Result<QrPayload, QrError> {
        if candidates.is_empty() {
            return Err(QrError::InvalidSeparatorCandidate(String::new()));
        }
        if let Some(c) = candidates
            .iter()
            .find(|c| !c.is_ascii_punctuation() || **c == '=')
        {
            return Err(QrError::InvalidSeparatorCandidate(c.to_string()));
        }
        self.candidates = candidates.to_vec();
        self.reseparated()
    }

    /// Picks the first candidate that occurs in no value.
    fn reseparated(mut self) -> Result<QrPayload, QrError> {
        let used = |c: char| self.values().any(|v| v.contains(c));
        match self.candidates.iter().copied().find(|c| !used(*c)) {
            Some(sep) => {
                self.separator = sep;
                Ok(self)
            }
            None => Err(QrError::NoSeparatorAvailable {
                candidates: self.candidates.iter().collect(),
            }),
        }
    }

    fn values(&self) -> impl Iterator<Item = &str> {
        self.mandatory
            .iter()
            .chain(self.optional.values())
            .chain(self.extra.iter().map(|(_, v)| v))
            .map(String::as_str)
    }

    /// Sets a checked value and re-chooses the separator.
    fn set(mut self, key: OptionalKey, value: String) -> Result<QrPayload, QrError> {
        self.optional.insert(key, value);
        self.reseparated()
    }

    /// Sets a key whose value cannot contain a separator candidate (digits, letters, `.`).
    fn set_plain(mut self, key: OptionalKey, value: String) -> QrPayload {
        debug_assert!(value.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
        self.optional.insert(key, value);
        self
    }

    fn set_text(self, key: OptionalKey, value: &str) -> Result<QrPayload, QrError> {
        check_text(key.as_str(), value)?;
        self.set(key, value.to_owned())
    }

    /// `PayeeINN`: the payee's ИНН.
    #[must_use]
    pub fn payee_inn(self, inn: &Inn) -> QrPayload {
        self.set_plain(OptionalKey::PayeeInn, inn.as_str().to_owned())
    }

    /// `KPP`: the payee's КПП.
    #[must_use]
    pub fn kpp(self, kpp: &Kpp) -> QrPayload {
        self.set_plain(OptionalKey::Kpp, kpp.as_str().to_owned())
    }

    /// `Sum`: the amount due in kopecks, digits only. Refuses zero and negative amounts — a bill
    /// with nothing to pay (an advance) has no `Sum`: do not call this.
    pub fn sum(self, amount: Money) -> Result<QrPayload, QrError> {
        let text = kopecks_text(OptionalKey::Sum, amount)?;
        Ok(self.set_plain(OptionalKey::Sum, text))
    }

    /// `Purpose`: the purpose of the payment, at most [`PURPOSE_MAX_CHARS`] characters.
    pub fn purpose(self, purpose: &str) -> Result<QrPayload, QrError> {
        let chars = purpose.chars().count();
        if chars > PURPOSE_MAX_CHARS {
            return Err(QrError::TooLong {
                key: OptionalKey::Purpose.as_str().to_owned(),
                chars,
                max: PURPOSE_MAX_CHARS,
            });
        }
        self.set_text(OptionalKey::Purpose, purpose)
    }

    /// `PersAcc`: the payer's personal account (ЛС) at the supplier.
    pub fn pers_acc(self, account: &str) -> Result<QrPayload, QrError> {
        self.set_text(OptionalKey::PersAcc, account)
    }

    /// `LastName`: the payer's last name.
    pub fn last_name(self, name: &str) -> Result<QrPayload, QrError> {
        self.set_text(OptionalKey::LastName, name)
    }

    /// `FirstName`: the payer's first name.
    pub fn first_name(self, name: &str) -> Result<QrPayload, QrError> {
        self.set_text(OptionalKey::FirstName, name)
    }

    /// `MiddleName`: the payer's patronymic.
    pub fn middle_name(self, name: &str) -> Result<QrPayload, QrError> {
        self.set_text(OptionalKey::MiddleName, name)
    }

    /// `PayerAddress`: the payer's address.
    pub fn payer_address(self, address: &str) -> Result<QrPayload, QrError> {
        self.set_text(OptionalKey::PayerAddress, address)
    }

    /// `PaymPeriod`: the billed period as `MMYYYY`.
    #[must_use]
    pub fn paym_period(self, period: Period) -> QrPayload {
        self.set_plain(OptionalKey::PaymPeriod, period.to_mmyyyy())
    }

    /// `PaymTerm`: the due date as `dd.MM.yyyy`.
    pub fn paym_term(self, due: Date) -> Result<QrPayload, QrError> {
        if !(1000..=9999).contains(&due.year()) {
            return Err(QrError::DateOutOfRange(due));
        }
        let text = format!(
            "{:02}.{:02}.{:04}",
            due.day(),
            u8::from(due.month()),
            due.year()
        );
        Ok(self.set_plain(OptionalKey::PaymTerm, text))
    }

    /// `CounterId`: the meter number.
    pub fn counter_id(self, meter: &str) -> Result<QrPayload, QrError> {
        self.set_text(OptionalKey::CounterId, meter)
    }

    /// `CounterVal`: the meter reading, written with a `.` as decimal point and its scale as
    /// given (`12345`, `123.450`). Refuses a negative reading.
    pub fn counter_val(self, reading: Decimal) -> Result<QrPayload, QrError> {
        if reading.is_sign_negative() && !reading.is_zero() {
            return Err(QrError::NegativeCounterValue(reading));
        }
        Ok(self.set_plain(OptionalKey::CounterVal, reading.abs().to_string()))
    }

    /// `AddAmount`: an additional amount in kopecks, digits only; refuses zero and negative.
    pub fn add_amount(self, amount: Money) -> Result<QrPayload, QrError> {
        let text = kopecks_text(OptionalKey::AddAmount, amount)?;
        Ok(self.set_plain(OptionalKey::AddAmount, text))
    }

    /// `Category`: the payer's category.
    pub fn category(self, category: &str) -> Result<QrPayload, QrError> {
        self.set_text(OptionalKey::Category, category)
    }

    /// `TechCode`: the kind of payment; [`TechCode::HOUSING_AND_UTILITIES`] for a utility bill.
    #[must_use]
    pub fn tech_code(self, code: TechCode) -> QrPayload {
        self.set_plain(OptionalKey::TechCode, code.code())
    }

    /// Any other key of the standard (`Flat`, `Phone`, `ServiceName`, `UIN` …): ASCII letters and
    /// digits, not a mandatory key and not one with a typed setter. Setting it again replaces the
    /// value and keeps its place.
    pub fn extra(mut self, key: &str, value: &str) -> Result<QrPayload, QrError> {
        let valid = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_alphanumeric())
            && !MANDATORY_KEYS.contains(&key)
            && OptionalKey::from_name(key).is_none();
        if !valid {
            return Err(QrError::InvalidExtraKey(key.to_owned()));
        }
        check_text(key, value)?;
        match self.extra.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value.to_owned(),
            None => self.extra.push((key.to_owned(), value.to_owned())),
        }
        self.reseparated()
    }

    /// The separator the payload uses: the first candidate that occurs in no value.
    #[must_use]
    pub fn separator(&self) -> char {
        self.separator
    }

    /// The value of a key, if set (mandatory, optional or extra).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Every `(key, value)` pair in the order they are written: the mandatory five, the optional
    /// keys in [`OptionalKey::ALL`] order, then the extra keys.
    #[must_use]
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        MANDATORY_KEYS
            .iter()
            .copied()
            .zip(self.mandatory.iter().map(String::as_str))
            .chain(self.optional.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .chain(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect()
    }

    /// The size in bytes of the mandatory block as counted for [`MANDATORY_BLOCK_MAX_BYTES`]:
    /// header, encoding digit, separator, the five mandatory pairs and the four separators
    /// between them.
    #[must_use]
    pub fn mandatory_block_bytes(&self) -> usize {
        let sep = self.separator.len_utf8();
        let pairs: usize = MANDATORY_KEYS
            .iter()
            .zip(&self.mandatory)
            .map(|(k, v)| k.len() + 1 + v.len())
            .sum();
        HEADER.len() + 1 + sep + pairs + 4 * sep
    }

    /// The payload text, UTF-8 (encoding digit `2`); the same as `to_string()`.
    #[must_use]
    pub fn encode(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for QrPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_payload(f, Encoding::Utf8, self.separator, self.pairs())
    }
}

fn write_payload<'a>(
    f: &mut fmt::Formatter<'_>,
    encoding: Encoding,
    separator: char,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> fmt::Result {
    write!(f, "{HEADER}{}{separator}", encoding.digit())?;
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            write!(f, "{separator}")?;
        }
        write!(f, "{k}={v}")?;
    }
    Ok(())
}

/// Why a text is not a ГОСТ Р 56042-2014 payload. Positions count the `key=value` pairs from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrParseError {
    /// The text does not start with `ST0001`.
    #[error("payload does not start with ST0001")]
    MissingHeader,
    /// The encoding digit is missing or not `1`, `2` or `3`.
    #[error("encoding digit after ST0001 must be 1, 2 or 3, got {0:?}")]
    UnknownEncoding(Option<char>),
    /// The separator after the encoding digit is missing.
    #[error("separator after the encoding digit is missing")]
    MissingSeparator,
    /// The separator is a letter, a digit, `=`, whitespace or a control character.
    #[error("{0:?} cannot be a separator")]
    InvalidSeparator(char),
    /// Two separators follow each other (an empty pair); a single trailing separator is allowed.
    #[error("pair {position} is empty")]
    EmptyPair {
        /// The position of the pair.
        position: usize,
    },
    /// A pair has no `=`.
    #[error("pair {position} '{pair}' has no '='")]
    MissingEquals {
        /// The position of the pair.
        position: usize,
        /// The text of the pair.
        pair: String,
    },
    /// A pair has an empty key.
    #[error("pair {position} has an empty key")]
    EmptyKey {
        /// The position of the pair.
        position: usize,
    },
    /// The payload ends before all five mandatory pairs.
    #[error("mandatory key {expected} is missing")]
    MissingMandatory {
        /// The key that is missing.
        expected: &'static str,
    },
    /// A mandatory pair is not where the order requires (keys are case-sensitive).
    #[error("pair {position} must be {expected}, found '{found}'")]
    MandatoryOutOfOrder {
        /// The position of the pair.
        position: usize,
        /// The key expected there.
        expected: &'static str,
        /// The key found there.
        found: String,
    },
    /// A mandatory value is empty.
    #[error("mandatory key {key} has an empty value")]
    EmptyMandatoryValue {
        /// The key.
        key: &'static str,
    },
    /// A key occurs twice.
    #[error("key {0} occurs more than once")]
    DuplicateKey(String),
    /// `Sum` is not digits only.
    #[error("sum '{0}' is not a whole number of kopecks")]
    InvalidSum(String),
}

/// A parsed payload: the declared encoding, the separator, the mandatory values and the other
/// pairs in their order (unknown keys kept). Its `Display` writes the payload back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQr {
    encoding: Encoding,
    separator: char,
    mandatory: [String; 5],
    optional: Vec<(String, String)>,
}

impl ParsedQr {
    /// The encoding the header declares.
    #[must_use]
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The separator.
    #[must_use]
    pub fn separator(&self) -> char {
        self.separator
    }

    /// `Name`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.mandatory[0]
    }

    /// `PersonalAcc`.
    #[must_use]
    pub fn personal_acc(&self) -> &str {
        &self.mandatory[1]
    }

    /// `BankName`.
    #[must_use]
    pub fn bank_name(&self) -> &str {
        &self.mandatory[2]
    }

    /// `BIC`.
    #[must_use]
    pub fn bic(&self) -> &str {
        &self.mandatory[3]
    }

    /// `CorrespAcc`.
    #[must_use]
    pub fn corresp_acc(&self) -> &str {
        &self.mandatory[4]
    }

    /// The pairs after the mandatory block, in their order.
    #[must_use]
    pub fn optional(&self) -> &[(String, String)] {
        &self.optional
    }

    /// The value of a key (case-sensitive), mandatory or not.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Every pair in its order, the mandatory five first.
    #[must_use]
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        MANDATORY_KEYS
            .iter()
            .copied()
            .zip(self.mandatory.iter().map(String::as_str))
            .chain(self.optional.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect()
    }

    /// `Sum` as money, `None` if absent; an error if it is not digits only.
    pub fn sum(&self) -> Result<Option<Money>, QrParseError> {
        match self.get("Sum") {
            None => Ok(None),
            Some(s)
                if !s.is_empty()
                    && s.len() <= SUM_MAX_DIGITS
                    && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.parse::<i64>()
                    .map(|k| Some(Money::from_kopecks(k)))
                    .map_err(|_| QrParseError::InvalidSum(s.to_owned()))
            }
            Some(s) => Err(QrParseError::InvalidSum(s.to_owned())),
        }
    }
}

impl fmt::Display for ParsedQr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_payload(f, self.encoding, self.separator, self.pairs())
    }
}

/// Parses a payload: the header `ST0001`, the encoding digit, the separator, the five mandatory
/// pairs in order, then any pairs (unknown keys kept, in their order). Values are taken as they
/// are, split at the first `=`, so a value may contain `=`. A single trailing separator is
/// accepted. Lengths are not checked: the parser reads what others produce.
///
/// ```
/// use billing_core::qr::{Encoding, parse};
/// let p = parse("ST00011|Name=ООО Ромашка|PersonalAcc=40702810200000000001|BankName=Банк|BIC=044525225|CorrespAcc=30101810400000000225|Flat=12").unwrap();
/// assert_eq!(p.encoding(), Encoding::Windows1251);
/// assert_eq!(p.get("Flat"), Some("12"));
/// ```
pub fn parse(text: &str) -> Result<ParsedQr, QrParseError> {
    let rest = text
        .strip_prefix(HEADER)
        .ok_or(QrParseError::MissingHeader)?;
    let mut chars = rest.chars();
    let digit = chars.next();
    let encoding = digit
        .and_then(Encoding::from_digit)
        .ok_or(QrParseError::UnknownEncoding(digit))?;
    let separator = chars.next().ok_or(QrParseError::MissingSeparator)?;
    if separator.is_alphanumeric()
        || separator == '='
        || separator.is_whitespace()
        || is_forbidden_char(separator)
    {
        return Err(QrParseError::InvalidSeparator(separator));
    }
    let body = chars.as_str();
    let body = body.strip_suffix(separator).unwrap_or(body);
    let mut mandatory: [String; 5] = Default::default();
    let mut optional: Vec<(String, String)> = Vec::new();
    let mut segments = if body.is_empty() {
        None
    } else {
        Some(body.split(separator))
    }
    .into_iter()
    .flatten();
    for (i, expected) in MANDATORY_KEYS.iter().enumerate() {
        let position = i + 1;
        let segment = segments
            .next()
            .ok_or(QrParseError::MissingMandatory { expected })?;
        let (key, value) = split_pair(position, segment)?;
        if key != *expected {
            return Err(QrParseError::MandatoryOutOfOrder {
                position,
                expected,
                found: key.to_owned(),
            });
        }
        if value.is_empty() {
            return Err(QrParseError::EmptyMandatoryValue { key: expected });
        }
        mandatory[i] = value.to_owned();
    }
    for (i, segment) in segments.enumerate() {
        let (key, value) = split_pair(MANDATORY_KEYS.len() + i + 1, segment)?;
        if MANDATORY_KEYS.contains(&key) || optional.iter().any(|(k, _)| k == key) {
            return Err(QrParseError::DuplicateKey(key.to_owned()));
        }
        optional.push((key.to_owned(), value.to_owned()));
    }
    Ok(ParsedQr {
        encoding,
        separator,
        mandatory,
        optional,
    })
}

fn split_pair(position: usize, segment: &str) -> Result<(&str, &str), QrParseError> {
    if segment.is_empty() {
        return Err(QrParseError::EmptyPair { position });
    }
    let (key, value) = segment
        .split_once('=')
        .ok_or_else(|| QrParseError::MissingEquals {
            position,
            pair: segment.to_owned(),
        })?;
    if key.is_empty() {
        return Err(QrParseError::EmptyKey { position });
    }
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requisites::{
        Address, BankName, Bic, CorrespAcc, EmergencyPhone, PersonalAcc, Phone,
    };
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn bank(name: &str) -> BankDetails {
        BankDetails::new(
            PersonalAcc::parse("40702810200000000001").unwrap(),
            BankName::parse(name).unwrap(),
            Bic::parse("044525225").unwrap(),
            CorrespAcc::parse("30101810400000000225").unwrap(),
        )
        .unwrap()
    }

    fn supplier() -> Requisites {
        Requisites::new(
            OrgName::parse("ПАО «Энергосбыт»").unwrap(),
            Inn::parse("7707083893").unwrap(),
            Some(Kpp::parse("770701001").unwrap()),
            bank("ПАО Сбербанк"),
            Address::parse("г. Москва, ул. Ленина, д. 1").unwrap(),
            vec![],
            vec![EmergencyPhone::new("Аварийная служба", Phone::parse("112").unwrap()).unwrap()],
        )
        .unwrap()
    }

    #[test]
    fn full_utility_bill_payload() {
        let qr = QrPayload::for_supplier(&supplier())
            .unwrap()
            .sum(Money::from_kopecks(234_567))
            .unwrap()
            .purpose("Оплата электроэнергии за январь 2026")
            .unwrap()
            .pers_acc("770012345678")
            .unwrap()
            .last_name("Иванов")
            .unwrap()
            .first_name("Иван")
            .unwrap()
            .middle_name("Иванович")
            .unwrap()
            .payer_address("г. Москва, ул. Тверская, д. 7, кв. 15")
            .unwrap()
            .paym_period(Period::new(2026, 1).unwrap())
            .paym_term(date!(2026 - 02 - 10))
            .unwrap()
            .counter_id("011552")
            .unwrap()
            .counter_val(dec!(12345))
            .unwrap()
            .tech_code(TechCode::HOUSING_AND_UTILITIES);
        let expected = "ST00012|Name=ПАО «Энергосбыт»|PersonalAcc=40702810200000000001|BankName=ПАО Сбербанк\
            |BIC=044525225|CorrespAcc=30101810400000000225|PayeeINN=7707083893|KPP=770701001\
            |Sum=234567|Purpose=Оплата электроэнергии за январь 2026|PersAcc=770012345678\
            |LastName=Иванов|FirstName=Иван|MiddleName=Иванович\
            |PayerAddress=г. Москва, ул. Тверская, д. 7, кв. 15|PaymPeriod=012026\
            |PaymTerm=10.02.2026|CounterId=011552|CounterVal=12345|TechCode=02";
        assert_eq!(qr.encode(), expected);
        assert_eq!(qr.to_string(), expected);
        let parsed = parse(expected).unwrap();
        assert_eq!(parsed.pairs(), qr.pairs());
        assert_eq!(parsed.to_string(), expected);
        assert_eq!(parsed.sum(), Ok(Some(Money::from_kopecks(234_567))));
        assert_eq!(parsed.encoding(), Encoding::Utf8);
    }

    #[test]
    fn mandatory_block_counts_bytes_not_characters() {
        let qr = QrPayload::new(&OrgName::parse("Ж").unwrap(), &bank("Б")).unwrap();
        // "ST00012|" 8 + "Name=Ж" 7 + "PersonalAcc=…" 32 + "BankName=Б" 11 + "BIC=…" 13
        // + "CorrespAcc=…" 31 + 4 separators = 106.
        assert_eq!(qr.mandatory_block_bytes(), 106);
        let prefix = qr.encode();
        assert_eq!(prefix.len(), 106);

        // 300 bytes exactly passes, 301 fails: the rest of the block with a 45-letter Cyrillic
        // bank name takes 8 + 5 + 32 + 9 + 90 + 13 + 31 + 4 = 192 bytes, leaving 108 for the name.
        let ok_name = OrgName::parse(&"Ж".repeat(54)).unwrap();
        let long_bank = bank(&"Б".repeat(45));
        assert_eq!(
            QrPayload::new(&ok_name, &long_bank)
                .unwrap()
                .mandatory_block_bytes(),
            300
        );
        let too_long = OrgName::parse(&format!("{}z", "Ж".repeat(54))).unwrap();
        assert_eq!(
            QrPayload::new(&too_long, &long_bank),
            Err(QrError::MandatoryBlockTooLong {
                bytes: 301,
                max: 300
            })
        );
    }

    #[test]
    fn separator_moves_away_from_values_and_runs_out() {
        let qr = QrPayload::new(&OrgName::parse("A|B").unwrap(), &bank("Банк")).unwrap();
        assert_eq!(qr.separator(), '#');
        let qr = qr.purpose("№ 5 # 6").unwrap();
        assert_eq!(qr.separator(), ';');
        let qr = qr.last_name("a;b~c").unwrap();
        assert_eq!(qr.separator(), '^');
        assert_eq!(
            qr.clone().first_name("^"),
            Err(QrError::NoSeparatorAvailable {
                candidates: "|#;~^".into()
            })
        );
        // Replacing the value that held '#' frees '#' again.
        let qr = qr.purpose("плата").unwrap();
        assert_eq!(qr.separator(), '#');
        // Custom candidates.
        let qr = qr.separator_candidates(&['|', '/']).unwrap();
        assert_eq!(qr.separator(), '/');
        assert_eq!(
            qr.clone().separator_candidates(&['=']),
            Err(QrError::InvalidSeparatorCandidate("=".into()))
        );
        assert_eq!(
            qr.clone().separator_candidates(&['Ж']),
            Err(QrError::InvalidSeparatorCandidate("Ж".into()))
        );
        assert_eq!(
            qr.clone().separator_candidates(&[]),
            Err(QrError::InvalidSeparatorCandidate(String::new()))
        );
        assert!(matches!(
            qr.separator_candidates(&['|']),
            Err(QrError::NoSeparatorAvailable { .. })
        ));
    }

    #[test]
    fn values_are_checked() {
        let qr = QrPayload::new(&OrgName::parse("ООО").unwrap(), &bank("Банк")).unwrap();
        assert_eq!(
            qr.clone().purpose(""),
            Err(QrError::EmptyValue {
                key: "Purpose".into()
            })
        );
        assert_eq!(
            qr.clone().purpose("a\nb"),
            Err(QrError::ControlCharacter {
                key: "Purpose".into()
            })
        );
        assert_eq!(
            qr.clone().last_name("a\u{2029}b"),
            Err(QrError::ControlCharacter {
                key: "LastName".into()
            })
        );
        assert_eq!(
            qr.clone().purpose(&"я".repeat(211)),
            Err(QrError::TooLong {
                key: "Purpose".into(),
                chars: 211,
                max: 210
            })
        );
        assert!(qr.clone().purpose(&"я".repeat(210)).is_ok());
        assert_eq!(
            qr.clone().sum(Money::ZERO),
            Err(QrError::NonPositiveAmount {
                key: "Sum".into(),
                amount: Money::ZERO
            })
        );
        assert!(matches!(
            qr.clone().sum(Money::from_kopecks(-1)),
            Err(QrError::NonPositiveAmount { .. })
        ));
        assert!(matches!(
            qr.clone().add_amount(Money::ZERO),
            Err(QrError::NonPositiveAmount { .. })
        ));
        let big = Money::from_kopecks(1_000_000_000_000_000_000);
        assert_eq!(
            qr.clone().sum(big),
            Err(QrError::AmountTooLarge {
                key: "Sum".into(),
                amount: big
            })
        );
        assert!(
            qr.clone()
                .sum(Money::from_kopecks(999_999_999_999_999_999))
                .is_ok()
        );
        assert_eq!(
            qr.clone().counter_val(dec!(-1)),
            Err(QrError::NegativeCounterValue(dec!(-1)))
        );
        assert_eq!(
            qr.clone()
                .counter_val(dec!(123.450))
                .unwrap()
                .get("CounterVal"),
            Some("123.450")
        );
        assert!(matches!(
            qr.clone().paym_term(date!(999 - 01 - 01)),
            Err(QrError::DateOutOfRange(_))
        ));
        assert_eq!(
            qr.clone()
                .paym_term(date!(2026 - 03 - 05))
                .unwrap()
                .get("PaymTerm"),
            Some("05.03.2026")
        );
        assert_eq!(
            qr.clone().extra("Sum", "1"),
            Err(QrError::InvalidExtraKey("Sum".into()))
        );
        assert_eq!(
            qr.clone().extra("BIC", "1"),
            Err(QrError::InvalidExtraKey("BIC".into()))
        );
        assert_eq!(
            qr.clone().extra("Fl at", "1"),
            Err(QrError::InvalidExtraKey("Fl at".into()))
        );
        let qr = qr
            .extra("Flat", "12")
            .unwrap()
            .extra("Phone", "+7")
            .unwrap()
            .extra("Flat", "13")
            .unwrap();
        assert!(qr.encode().ends_with("|Flat=13|Phone=+7"));
        assert_eq!(TechCode::new(0), None);
        assert_eq!(TechCode::new(15).map(TechCode::code), Some("15".to_owned()));
    }

    #[test]
    fn individual_entrepreneur_has_no_kpp_pair() {
        let r = Requisites::new(
            OrgName::parse("ИП Петров П. П.").unwrap(),
            Inn::parse("500100732259").unwrap(),
            None,
            bank("Банк"),
            Address::parse("г. Тула").unwrap(),
            vec![],
            vec![EmergencyPhone::new("Аварийная служба", Phone::parse("04").unwrap()).unwrap()],
        )
        .unwrap();
        let qr = QrPayload::for_supplier(&r).unwrap();
        assert_eq!(qr.get("PayeeINN"), Some("500100732259"));
        assert_eq!(qr.get("KPP"), None);
    }

    #[test]
    fn parser_errors() {
        let ok = "ST00012|Name=A|PersonalAcc=1|BankName=B|BIC=2|CorrespAcc=3";
        assert!(parse(ok).is_ok());
        assert_eq!(parse(&format!("{ok}|")).unwrap().to_string(), ok);
        assert_eq!(parse("ST0002"), Err(QrParseError::MissingHeader));
        assert_eq!(parse("st00012|Name=A"), Err(QrParseError::MissingHeader));
        assert_eq!(parse("ST0001"), Err(QrParseError::UnknownEncoding(None)));
        assert_eq!(
            parse("ST00014|"),
            Err(QrParseError::UnknownEncoding(Some('4')))
        );
        assert_eq!(parse("ST00012"), Err(QrParseError::MissingSeparator));
        assert_eq!(
            parse("ST00012=Name"),
            Err(QrParseError::InvalidSeparator('='))
        );
        assert_eq!(parse("ST00012N"), Err(QrParseError::InvalidSeparator('N')));
        assert_eq!(
            parse("ST00012|"),
            Err(QrParseError::MissingMandatory { expected: "Name" })
        );
        assert_eq!(
            parse("ST00012|name=A|PersonalAcc=1"),
            Err(QrParseError::MandatoryOutOfOrder {
                position: 1,
                expected: "Name",
                found: "name".into()
            })
        );
        assert_eq!(
            parse("ST00012|Name=A|BankName=B|PersonalAcc=1|BIC=2|CorrespAcc=3"),
            Err(QrParseError::MandatoryOutOfOrder {
                position: 2,
                expected: "PersonalAcc",
                found: "BankName".into()
            })
        );
        assert_eq!(
            parse("ST00012|Name=A|PersonalAcc=1"),
            Err(QrParseError::MissingMandatory {
                expected: "BankName"
            })
        );
        assert_eq!(
            parse("ST00012|Name=|PersonalAcc=1"),
            Err(QrParseError::EmptyMandatoryValue { key: "Name" })
        );
        assert_eq!(
            parse("ST00012|NameA|PersonalAcc=1"),
            Err(QrParseError::MissingEquals {
                position: 1,
                pair: "NameA".into()
            })
        );
        assert_eq!(
            parse(&format!("{ok}||Sum=1")),
            Err(QrParseError::EmptyPair { position: 6 })
        );
        assert_eq!(
            parse(&format!("{ok}|=1")),
            Err(QrParseError::EmptyKey { position: 6 })
        );
        assert_eq!(
            parse(&format!("{ok}|Sum=1|Sum=2")),
            Err(QrParseError::DuplicateKey("Sum".into()))
        );
        assert_eq!(
            parse(&format!("{ok}|BIC=2")),
            Err(QrParseError::DuplicateKey("BIC".into()))
        );
        assert_eq!(
            parse(&format!("{ok}|Sum=12.50")).unwrap().sum(),
            Err(QrParseError::InvalidSum("12.50".into()))
        );
        assert_eq!(
            parse(&format!("{ok}|Note=a=b")).unwrap().get("Note"),
            Some("a=b")
        );
        assert_eq!(parse(&format!("{ok}|sum=5")).unwrap().sum(), Ok(None));
    }

    #[test]
    fn russian_messages() {
        assert_eq!(
            QrError::MandatoryBlockTooLong {
                bytes: 301,
                max: 300
            }
            .russian_message(),
            "Обязательные реквизиты QR-кода занимают 301 байт, допускается не более 300: сократите наименование получателя или банка"
        );
        assert_eq!(
            QrError::EmptyValue {
                key: "Purpose".into()
            }
            .to_string(),
            "value of Purpose is empty"
        );
    }
}
