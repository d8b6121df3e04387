//! Supplier requisites: organisation name, ИНН, КПП, bank details, address and phones.
//!
//! Every requisite is a newtype with a private field and one fallible constructor (`parse` or
//! `new`): code that holds an [`Inn`] or a [`BankDetails`] holds a valid one ("parse, don't
//! validate"). The checks are the official ones:
//!
//! - [`Inn`]: 10 digits for a legal entity or 12 for an individual entrepreneur, with the ФНС
//!   check digits (weights `2 4 10 3 5 9 4 6 8` for the 10-digit number;
//!   `7 2 4 10 3 5 9 4 6 8` and `3 7 2 4 10 3 5 9 4 6 8` for the 12-digit one; each check digit
//!   is the weighted sum mod 11, mod 10);
//! - [`Kpp`]: 9 characters, `NNNN PP XXX` where `PP` may be digits or capital Latin letters;
//! - [`BankDetails`]: the 20-digit settlement and correspondent accounts are checked against the
//!   9-digit [`Bic`] with the Bank of Russia control key (weights `7 1 3`), see
//!   [`account_control_key`].
//!
//! Errors are one enum, [`RequisiteError`], whose variants name the field and what is wrong; an
//! operator entering a supplier's settings sees [`RequisiteError::russian_message`].

use std::fmt;

use serde::Serialize;

/// The most characters an organisation name may have: the `Name` field of ГОСТ Р 56042-2014
/// (table 1) is at most 160 characters, and the name is printed in the payment QR code.
pub const ORG_NAME_MAX_CHARS: usize = 160;

/// The most characters a bank name may have: the `BankName` field of ГОСТ Р 56042-2014 (table 1)
/// is at most 45 characters.
pub const BANK_NAME_MAX_CHARS: usize = 45;

/// The most characters an address may have (a generous bound against garbage input).
pub const ADDRESS_MAX_CHARS: usize = 500;

/// The most characters a phone label ("Аварийно-диспетчерская служба") may have.
pub const PHONE_LABEL_MAX_CHARS: usize = 100;

/// The fewest digits a phone number may have: short emergency numbers such as `112` or `04`.
pub const PHONE_MIN_DIGITS: usize = 2;

/// The most digits a phone number may have (ITU-T E.164).
pub const PHONE_MAX_DIGITS: usize = 15;

/// A requisite of the supplier; names the field in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The organisation (payee) name.
    Name,
    /// ИНН.
    Inn,
    /// КПП.
    Kpp,
    /// The settlement account (расчётный счёт, ГОСТ `PersonalAcc`).
    PersonalAcc,
    /// The bank name.
    BankName,
    /// БИК.
    Bic,
    /// The bank's correspondent account (корреспондентский счёт).
    CorrespAcc,
    /// The address.
    Address,
    /// A phone number.
    Phone,
    /// The label of a phone number.
    PhoneLabel,
}

impl Field {
    /// The name of the field in Russian, as an operator sees it.
    #[must_use]
    pub fn russian_name(self) -> &'static str {
        match self {
            Field::Name => "наименование организации",
            Field::Inn => "ИНН",
            Field::Kpp => "КПП",
            Field::PersonalAcc => "расчётный счёт",
            Field::BankName => "наименование банка",
            Field::Bic => "БИК",
            Field::CorrespAcc => "корреспондентский счёт",
            Field::Address => "адрес",
            Field::Phone => "телефон",
            Field::PhoneLabel => "назначение телефона",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Name => "organisation name",
            Field::Inn => "inn",
            Field::Kpp => "kpp",
            Field::PersonalAcc => "settlement account",
            Field::BankName => "bank name",
            Field::Bic => "bic",
            Field::CorrespAcc => "correspondent account",
            Field::Address => "address",
            Field::Phone => "phone",
            Field::PhoneLabel => "phone label",
        })
    }
}

/// Why a requisite was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequisiteError {
    /// The value is empty or only whitespace.
    #[error("{field} is empty")]
    Empty {
        /// The field.
        field: Field,
    },
    /// The value is longer than the field allows.
    #[error("{field} has {chars} characters, at most {max} are allowed")]
    TooLong {
        /// The field.
        field: Field,
        /// The number of characters given.
        chars: usize,
        /// The most characters allowed.
        max: usize,
    },
    /// The value contains a control character (a line break, a tab, …).
    #[error("{field} contains a control character or a line break")]
    ControlCharacter {
        /// The field.
        field: Field,
    },
    /// The value is not the expected number of digits.
    #[error("{field} must be {expected} digits, got '{found}'")]
    NotDigits {
        /// The field.
        field: Field,
        /// The expected number of digits, in words («10 or 12»).
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// The ИНН has the right length but a wrong check digit: probably a typo.
    #[error("inn {inn} has a wrong check digit")]
    InnCheckDigit {
        /// The ИНН given.
        inn: String,
    },
    /// The КПП is not four digits, two digits or capital Latin letters, and three digits.
    #[error("kpp '{found}' must be 4 digits, 2 digits or capital latin letters, then 3 digits")]
    KppMalformed {
        /// The value given.
        found: String,
    },
    /// The phone number has characters other than digits, spaces, `+`, `-`, `(`, `)` or `.`,
    /// or too few or too many digits.
    #[error(
        "phone '{found}' must have {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits and only spaces, '+', '-', '(', ')' or '.' between them"
    )]
    PhoneMalformed {
        /// The value given.
        found: String,
    },
    /// An account does not match the БИК: its control key (9th digit) is wrong — a typo in the
    /// account or in the БИК.
    #[error(
        "{field} {account} does not match bic {bic}: its control key (9th digit) should be {expected}, not {found}"
    )]
    AccountKey {
        /// Which account: [`Field::PersonalAcc`] or [`Field::CorrespAcc`].
        field: Field,
        /// The account given.
        account: String,
        /// The БИК given.
        bic: String,
        /// The control key the account must have with this БИК.
        expected: u8,
        /// The control key the account has.
        found: u8,
    },
    /// A legal entity (10-digit ИНН) always has a КПП.
    #[error("a legal entity (10-digit inn) must have a kpp")]
    KppRequired,
    /// An individual entrepreneur (12-digit ИНН) has no КПП.
    #[error("an individual entrepreneur (12-digit inn) has no kpp")]
    KppNotApplicable,
    /// The payment document must give at least one emergency phone (ПП 354 п. 69).
    #[error("at least one emergency phone is required for the payment document")]
    NoEmergencyPhone,
}

impl RequisiteError {
    /// The message in Russian, for the operator who enters the supplier's requisites.
    #[must_use]
    pub fn russian_message(&self) -> String {
        match self {
            RequisiteError::Empty { field } => format!("Поле «{}» не заполнено", field.russian_name()),
            RequisiteError::TooLong { field, chars, max } => {
                format!("Поле «{}» слишком длинное: {chars} символов, допускается не более {max}", field.russian_name())
            }
            RequisiteError::ControlCharacter { field } => {
                format!("Поле «{}» содержит перевод строки или управляющий символ", field.russian_name())
            }
            RequisiteError::NotDigits { field, expected, found } => {
                format!("{} должен состоять из {expected} цифр, введено «{found}»", capitalize(field.russian_name()))
            }
            RequisiteError::InnCheckDigit { inn } => {
                format!("ИНН {inn} не проходит проверку контрольного числа: проверьте, нет ли опечатки")
            }
            RequisiteError::KppMalformed { found } => {
                format!("КПП «{found}» должен состоять из 9 знаков: 4 цифры, 2 цифры или заглавные латинские буквы, 3 цифры")
            }
            RequisiteError::PhoneMalformed { found } => format!(
                "Телефон «{found}» должен содержать от {PHONE_MIN_DIGITS} до {PHONE_MAX_DIGITS} цифр; между ними допустимы только пробелы, «+», «-», скобки и точки"
            ),
            RequisiteError::AccountKey { field, account, bic, .. } => format!(
                "{} {account} не соответствует БИК {bic} (не сходится контрольный ключ): проверьте счёт и БИК",
                capitalize(field.russian_name())
            ),
            RequisiteError::KppRequired => "Для юридического лица (ИНН из 10 цифр) нужно указать КПП".to_owned(),
            RequisiteError::KppNotApplicable => "У индивидуального предпринимателя (ИНН из 12 цифр) нет КПП".to_owned(),
            RequisiteError::NoEmergencyPhone => {
                "Укажите хотя бы один телефон аварийно-диспетчерской службы: он обязателен в платёжном документе".to_owned()
            }
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// True for the characters refused in any text requisite: control characters (which include
/// `\n`, `\r`, `\t`) and the Unicode line and paragraph separators.
pub(crate) fn is_forbidden_char(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Trims the text and checks it is not empty, has no control characters and is not too long.
fn parse_text(field: Field, raw: &str, max: usize) -> Result<String, RequisiteError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(RequisiteError::Empty { field });
    }
    if text.chars().any(is_forbidden_char) {
        return Err(RequisiteError::ControlCharacter { field });
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(RequisiteError::TooLong { field, chars, max });
    }
    Ok(text.to_owned())
}

/// Trims the text and checks it is exactly `len` ASCII digits.
fn parse_digits(
    field: Field,
    raw: &str,
    len: usize,
    expected: &'static str,
) -> Result<String, RequisiteError> {
    let text = raw.trim();
    if text.len() == len && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text.to_owned())
    } else {
        Err(RequisiteError::NotDigits {
            field,
            expected,
            found: text.to_owned(),
        })
    }
}

fn digit_values(s: &str) -> impl Iterator<Item = u32> + '_ {
    s.bytes().map(|b| u32::from(b - b'0'))
}

macro_rules! text_accessors {
    ($name:ident) => {
        impl $name {
            /// The value as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// The organisation name of the supplier (the payee, ГОСТ `Name`): 1–160 characters, no control
/// characters; surrounding whitespace is trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct OrgName(String);

impl OrgName {
    /// Parses an organisation name.
    ///
    /// ```
    /// use billing_core::requisites::OrgName;
    /// assert_eq!(OrgName::parse("  ПАО «Энергосбыт» ").unwrap().as_str(), "ПАО «Энергосбыт»");
    /// assert!(OrgName::parse("ПАО\n«Энергосбыт»").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<OrgName, RequisiteError> {
        parse_text(Field::Name, raw, ORG_NAME_MAX_CHARS).map(OrgName)
    }
}
text_accessors!(OrgName);

/// Whether an ИНН belongs to a legal entity or to an individual entrepreneur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InnKind {
    /// A legal entity: 10 digits.
    LegalEntity,
    /// An individual entrepreneur (or any natural person): 12 digits.
    Individual,
}

/// An ИНН (taxpayer number) with valid check digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Inn(String);

const INN10_WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12_WEIGHTS_11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12_WEIGHTS_12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// The ИНН check digit over `digits` with `weights`: the weighted sum mod 11, mod 10.
fn inn_check_digit(digits: &str, weights: &[u32]) -> u32 {
    digit_values(digits)
        .zip(weights)
        .map(|(d, w)| d * w)
        .sum::<u32>()
        % 11
        % 10
}

impl Inn {
    /// Parses a 10-digit (legal entity) or 12-digit (individual entrepreneur) ИНН and checks
    /// its check digits.
    ///
    /// ```
    /// use billing_core::requisites::{Inn, InnKind};
    /// assert_eq!(Inn::parse("7707083893").unwrap().kind(), InnKind::LegalEntity);
    /// assert_eq!(Inn::parse("500100732259").unwrap().kind(), InnKind::Individual);
    /// assert!(Inn::parse("7707083894").is_err()); // the last digit is a check digit
    /// ```
    pub fn parse(raw: &str) -> Result<Inn, RequisiteError> {
        let text = raw.trim();
        let bad_len = || RequisiteError::NotDigits {
            field: Field::Inn,
            expected: "10 or 12",
            found: text.to_owned(),
        };
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_len());
        }
        let valid = match text.len() {
            10 => inn_check_digit(&text[..9], &INN10_WEIGHTS) == digit_at(text, 9),
            12 => {
                inn_check_digit(&text[..10], &INN12_WEIGHTS_11) == digit_at(text, 10)
                    && inn_check_digit(&text[..11], &INN12_WEIGHTS_12) == digit_at(text, 11)
            }
            _ => return Err(bad_len()),
        };
        if valid {
            Ok(Inn(text.to_owned()))
        } else {
            Err(RequisiteError::InnCheckDigit {
                inn: text.to_owned(),
            })
        }
    }

    /// A legal entity (10 digits) or an individual entrepreneur (12 digits).
    #[must_use]
    pub fn kind(&self) -> InnKind {
        if self.0.len() == 10 {
            InnKind::LegalEntity
        } else {
            InnKind::Individual
        }
    }
}
text_accessors!(Inn);

fn digit_at(s: &str, i: usize) -> u32 {
    u32::from(s.as_bytes()[i] - b'0')
}

/// A КПП (tax registration reason code): 9 characters — the tax office code (4 digits), the
/// reason (2 digits or capital Latin letters, allowed since 2019) and a serial number (3 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Kpp(String);

impl Kpp {
    /// Parses a КПП.
    ///
    /// ```
    /// use billing_core::requisites::Kpp;
    /// assert!(Kpp::parse("770701001").is_ok());
    /// assert!(Kpp::parse("7707AB001").is_ok());
    /// assert!(Kpp::parse("77070100").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Kpp, RequisiteError> {
        let text = raw.trim();
        let b = text.as_bytes();
        let ok = b.len() == 9
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4..6]
                .iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            && b[6..].iter().all(u8::is_ascii_digit);
        if ok {
            Ok(Kpp(text.to_owned()))
        } else {
            Err(RequisiteError::KppMalformed {
                found: text.to_owned(),
            })
        }
    }
}
text_accessors!(Kpp);

/// The payee's settlement account (расчётный счёт, ГОСТ `PersonalAcc`): 20 digits. Its control
/// key is checked against the БИК when it becomes part of [`BankDetails`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PersonalAcc(String);

impl PersonalAcc {
    /// Parses a 20-digit account number.
    pub fn parse(raw: &str) -> Result<PersonalAcc, RequisiteError> {
        parse_digits(Field::PersonalAcc, raw, 20, "20").map(PersonalAcc)
    }

    /// True for a treasury account (казначейский счёт, first digits `03`) opened in a body of the
    /// Federal Treasury; see [`BankDetails::new`] for how its key is treated.
    #[must_use]
    pub fn is_treasury(&self) -> bool {
        self.0.starts_with("03")
    }
}
text_accessors!(PersonalAcc);

/// The name of the payee's bank (ГОСТ `BankName`): 1–45 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BankName(String);

impl BankName {
    /// Parses a bank name.
    pub fn parse(raw: &str) -> Result<BankName, RequisiteError> {
        parse_text(Field::BankName, raw, BANK_NAME_MAX_CHARS).map(BankName)
    }
}
text_accessors!(BankName);

/// A БИК (bank identification code): 9 digits.
///
/// Its digits 5–6 are the conditional number of the Bank of Russia division that holds the bank's
/// correspondent account, and digits 7–9 the conditional number of the bank in that division;
/// [`account_control_key`] uses the former for correspondent accounts and the latter for
/// settlement accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Bic(String);

impl Bic {
    /// Parses a БИК.
    pub fn parse(raw: &str) -> Result<Bic, RequisiteError> {
        parse_digits(Field::Bic, raw, 9, "9").map(Bic)
    }
}
text_accessors!(Bic);

/// The correspondent account of the payee's bank (ГОСТ `CorrespAcc`): 20 digits. Its control key
/// is checked against the БИК when it becomes part of [`BankDetails`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CorrespAcc(String);

impl CorrespAcc {
    /// Parses a 20-digit correspondent account number.
    pub fn parse(raw: &str) -> Result<CorrespAcc, RequisiteError> {
        parse_digits(Field::CorrespAcc, raw, 20, "20").map(CorrespAcc)
    }
}
text_accessors!(CorrespAcc);

/// Which account the control key is computed for; decides which БИК digits are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// An account opened in a bank (settlement account, `PersonalAcc`): the key uses БИК digits
    /// 7–9, the conditional number of the bank.
    Settlement,
    /// A bank's correspondent account opened in a Bank of Russia division (`CorrespAcc`; also the
    /// single treasury account ЕКС `40102…`): the key uses `0` followed by БИК digits 5–6, the
    /// conditional number of the division.
    Correspondent,
}

/// The Bank of Russia weights of the control key, repeated over the 23 digits.
const KEY_WEIGHTS: [u32; 3] = [7, 1, 3];

/// The control key (the 9th digit) that a 20-digit `account` must have with `bic`, or `None` if
/// `account` is not 20 ASCII digits.
///
/// The algorithm of the Bank of Russia («Порядок расчёта контрольного ключа в номере лицевого
/// счёта», 08.09.1997 № 515): write three digits of the БИК (digits 7–9 for a settlement account;
/// `0` and digits 5–6 for a correspondent account, see [`AccountKind`]) before the 20 digits of
/// the account with its 9th digit set to 0; multiply each of the 23 digits by the weights
/// `7 1 3 7 1 3 …`; add up the last digits of the products; the key is the last digit of that sum
/// multiplied by 3. Equivalently, with the right key the weighted sum is a multiple of 10.
///
/// ```
/// use billing_core::requisites::{AccountKind, Bic, account_control_key};
/// let bic = Bic::parse("044525225").unwrap();
/// // ПАО Сбербанк's correspondent account 30101810400000000225: the 9th digit is 4.
/// assert_eq!(account_control_key(&bic, AccountKind::Correspondent, "30101810400000000225"), Some(4));
/// ```
#[must_use]
pub fn account_control_key(bic: &Bic, kind: AccountKind, account: &str) -> Option<u8> {
    if account.len() != 20 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix = match kind {
        AccountKind::Settlement => bic.0[6..9].to_owned(),
        AccountKind::Correspondent => format!("0{}", &bic.0[4..6]),
    };
    let sum: u32 = prefix
        .bytes()
        .chain(
            account
                .bytes()
                .enumerate()
                .map(|(i, b)| if i == 8 { b'0' } else { b }),
        )
        .map(|b| u32::from(b - b'0'))
        .zip(KEY_WEIGHTS.iter().cycle())
        .map(|(d, w)| d * w % 10)
        .sum();
    u8::try_from(sum % 10 * 3 % 10).ok()
}

fn check_key(
    bic: &Bic,
    kind: AccountKind,
    field: Field,
    account: &str,
) -> Result<(), RequisiteError> {
    let expected = account_control_key(bic, kind, account).unwrap_or(0);
    let found = account.as_bytes()[8] - b'0';
    if expected == found {
        Ok(())
    } else {
        Err(RequisiteError::AccountKey {
            field,
            account: account.to_owned(),
            bic: bic.0.clone(),
            expected,
            found,
        })
    }
}

/// The payee's bank details, with both accounts checked against the БИК.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct BankDetails {
    personal_acc: PersonalAcc,
    bank_name: BankName,
    bic: Bic,
    corresp_acc: CorrespAcc,
}

impl BankDetails {
    /// Gathers the bank details and checks the control keys: the settlement account against БИК
    /// digits 7–9 and the correspondent account against `0` + БИК digits 5–6
    /// ([`account_control_key`]).
    ///
    /// A treasury account (`03…`, [`PersonalAcc::is_treasury`]) is not checked against the БИК:
    /// its 9th digit is not a control key of this algorithm (confirm with the Federal Treasury's
    /// rules before relying on a check). Its ЕКС correspondent account is checked as usual.
    ///
    /// ```
    /// use billing_core::requisites::{BankDetails, BankName, Bic, CorrespAcc, PersonalAcc};
    /// let bank = BankDetails::new(
    ///     PersonalAcc::parse("40702810200000000001").unwrap(),
    ///     BankName::parse("ПАО Сбербанк").unwrap(),
    ///     Bic::parse("044525225").unwrap(),
    ///     CorrespAcc::parse("30101810400000000225").unwrap(),
    /// );
    /// assert!(bank.is_ok());
    /// ```
    pub fn new(
        personal_acc: PersonalAcc,
        bank_name: BankName,
        bic: Bic,
        corresp_acc: CorrespAcc,
    ) -> Result<BankDetails, RequisiteError> {
        if !personal_acc.is_treasury() {
            check_key(
                &bic,
                AccountKind::Settlement,
                Field::PersonalAcc,
                &personal_acc.0,
            )?;
        }
        check_key(
            &bic,
            AccountKind::Correspondent,
            Field::CorrespAcc,
            &corresp_acc.0,
        )?;
        Ok(BankDetails {
            personal_acc,
            bank_name,
            bic,
            corresp_acc,
        })
    }

    /// The settlement account.
    #[must_use]
    pub fn personal_acc(&self) -> &PersonalAcc {
        &self.personal_acc
    }

    /// The bank name.
    #[must_use]
    pub fn bank_name(&self) -> &BankName {
        &self.bank_name
    }

    /// The БИК.
    #[must_use]
    pub fn bic(&self) -> &Bic {
        &self.bic
    }

    /// The correspondent account.
    #[must_use]
    pub fn corresp_acc(&self) -> &CorrespAcc {
        &self.corresp_acc
    }
}

/// A postal address (of the supplier, or its office): 1–500 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    /// Parses an address.
    pub fn parse(raw: &str) -> Result<Address, RequisiteError> {
        parse_text(Field::Address, raw, ADDRESS_MAX_CHARS).map(Address)
    }
}
text_accessors!(Address);

/// A phone number as it is printed: 2–15 digits with optional spaces, `-`, `(`, `)`, `.` between
/// them and an optional leading `+`. Short numbers (`112`, `04`) are allowed for emergency
/// services.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number; keeps its printed form (trimmed).
    ///
    /// ```
    /// use billing_core::requisites::Phone;
    /// let p = Phone::parse("+7 (495) 123-45-67").unwrap();
    /// assert_eq!(p.digits(), "74951234567");
    /// assert!(Phone::parse("112").is_ok());
    /// assert!(Phone::parse("call us").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Phone, RequisiteError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(RequisiteError::Empty {
                field: Field::Phone,
            });
        }
        let body = text.strip_prefix('+').unwrap_or(text);
        let allowed = body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'));
        let digits = body.bytes().filter(u8::is_ascii_digit).count();
        if allowed && (PHONE_MIN_DIGITS..=PHONE_MAX_DIGITS).contains(&digits) {
            Ok(Phone(text.to_owned()))
        } else {
            Err(RequisiteError::PhoneMalformed {
                found: text.to_owned(),
            })
        }
    }

    /// The digits only (for a `tel:` link).
    #[must_use]
    pub fn digits(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }
}
text_accessors!(Phone);

/// An emergency phone for the payment document (ПП 354 п. 69): what it is for and the number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct EmergencyPhone {
    label: String,
    phone: Phone,
}

impl EmergencyPhone {
    /// An emergency phone with its label («Аварийно-диспетчерская служба»): the label is 1–100
    /// characters without control characters.
    ///
    /// ```
    /// use billing_core::requisites::{EmergencyPhone, Phone};
    /// let e = EmergencyPhone::new("Аварийная служба", Phone::parse("8 800 100-00-00").unwrap()).unwrap();
    /// assert_eq!(e.label(), "Аварийная служба");
    /// ```
    pub fn new(label: &str, phone: Phone) -> Result<EmergencyPhone, RequisiteError> {
        Ok(EmergencyPhone {
            label: parse_text(Field::PhoneLabel, label, PHONE_LABEL_MAX_CHARS)?,
            phone,
        })
    }

    /// What the phone is for.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The number.
    #[must_use]
    pub fn phone(&self) -> &Phone {
        &self.phone
    }
}

/// The supplier's requisites as printed on the payment document (ЕПД section 1) and encoded in
/// its QR code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Requisites {
    name: OrgName,
    inn: Inn,
    kpp: Option<Kpp>,
    bank: BankDetails,
    address: Address,
    phones: Vec<Phone>,
    emergency_phones: Vec<EmergencyPhone>,
}

impl Requisites {
    /// Gathers the requisites. A legal entity (10-digit ИНН) must have a КПП and an individual
    /// entrepreneur (12-digit ИНН) must not; at least one emergency phone is required, because
    /// the payment document must show it (ПП 354 п. 69). `phones` are the ordinary contact
    /// numbers and may be empty.
    pub fn new(
        name: OrgName,
        inn: Inn,
        kpp: Option<Kpp>,
        bank: BankDetails,
        address: Address,
        phones: Vec<Phone>,
        emergency_phones: Vec<EmergencyPhone>,
    ) -> Result<Requisites, RequisiteError> {
        match (inn.kind(), &kpp) {
            (InnKind::LegalEntity, None) => return Err(RequisiteError::KppRequired),
            (InnKind::Individual, Some(_)) => return Err(RequisiteError::KppNotApplicable),
            _ => {}
        }
        if emergency_phones.is_empty() {
            return Err(RequisiteError::NoEmergencyPhone);
        }
        Ok(Requisites {
            name,
            inn,
            kpp,
            bank,
            address,
            phones,
            emergency_phones,
        })
    }

    /// The organisation name.
    #[must_use]
    pub fn name(&self) -> &OrgName {
        &self.name
    }

    /// The ИНН.
    #[must_use]
    pub fn inn(&self) -> &Inn {
        &self.inn
    }

    /// The КПП; `None` for an individual entrepreneur.
    #[must_use]
    pub fn kpp(&self) -> Option<&Kpp> {
        self.kpp.as_ref()
    }

    /// The bank details.
    #[must_use]
    pub fn bank(&self) -> &BankDetails {
        &self.bank
    }

    /// The address.
    #[must_use]
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The ordinary contact phones.
    #[must_use]
    pub fn phones(&self) -> &[Phone] {
        &self.phones
    }

    /// The emergency phones (never empty).
    #[must_use]
    pub fn emergency_phones(&self) -> &[EmergencyPhone] {
        &self.emergency_phones
    }
}

/// Valid requisites for tests of any module (a real bank pair: Сбербанк's BIC and correspondent
/// account; two emergency phones), under the payee name `name`.
#[cfg(test)]
pub(crate) fn sample(name: &str) -> Requisites {
    let bank = BankDetails::new(
        PersonalAcc::parse("40702810200000000001").unwrap(),
        BankName::parse("ПАО Сбербанк").unwrap(),
        Bic::parse("044525225").unwrap(),
        CorrespAcc::parse("30101810400000000225").unwrap(),
    )
    .unwrap();
    Requisites::new(
        OrgName::parse(name).unwrap(),
        Inn::parse("7707083893").unwrap(),
        Some(Kpp::parse("770701001").unwrap()),
        bank,
        Address::parse("г. Тула, ул. Советская, д. 1").unwrap(),
        vec![Phone::parse("8 800 100-00-00").unwrap()],
        vec![
            EmergencyPhone::new(
                "Аварийно-диспетчерская служба",
                Phone::parse("+7 (4872) 00-00-00").unwrap(),
            )
            .unwrap(),
            EmergencyPhone::new("Единая служба спасения", Phone::parse("112").unwrap()).unwrap(),
        ],
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sber() -> BankDetails {
        BankDetails::new(
            PersonalAcc::parse("40702810200000000001").unwrap(),
            BankName::parse("ПАО Сбербанк").unwrap(),
            Bic::parse("044525225").unwrap(),
            CorrespAcc::parse("30101810400000000225").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn real_inns_pass_and_typos_fail() {
        for inn in ["7707083893", "7702070139", "7736050003", "7728168971"] {
            assert_eq!(
                Inn::parse(inn).unwrap().kind(),
                InnKind::LegalEntity,
                "{inn}"
            );
        }
        assert_eq!(
            Inn::parse("500100732259").unwrap().kind(),
            InnKind::Individual
        );
        assert_eq!(
            Inn::parse("7707083890"),
            Err(RequisiteError::InnCheckDigit {
                inn: "7707083890".into()
            })
        );
        assert_eq!(
            Inn::parse("500100732258"),
            Err(RequisiteError::InnCheckDigit {
                inn: "500100732258".into()
            })
        );
        assert!(matches!(
            Inn::parse("770708389"),
            Err(RequisiteError::NotDigits {
                field: Field::Inn,
                ..
            })
        ));
        assert!(matches!(
            Inn::parse("77070838 3"),
            Err(RequisiteError::NotDigits { .. })
        ));
        assert!(matches!(
            Inn::parse("７７０７０８３８９３"),
            Err(RequisiteError::NotDigits { .. })
        ));
    }

    #[test]
    fn real_correspondent_accounts_match_their_bics() {
        // ПАО Сбербанк, Банк ВТБ, АО «Альфа-Банк», АО «ТБанк»; the treasury ЕКС of ФНС's ЕНС.
        for (bic, corr) in [
            ("044525225", "30101810400000000225"),
            ("044525187", "30101810700000000187"),
            ("044525593", "30101810200000000593"),
            ("044525974", "30101810145250000974"),
            ("017003983", "40102810445370000059"),
        ] {
            let bic = Bic::parse(bic).unwrap();
            assert_eq!(
                check_key(&bic, AccountKind::Correspondent, Field::CorrespAcc, corr),
                Ok(()),
                "{corr}"
            );
            // The same account read as a settlement account (БИК digits 7–9) does not match.
            assert!(
                check_key(&bic, AccountKind::Settlement, Field::PersonalAcc, corr).is_err(),
                "{corr}"
            );
        }
    }

    #[test]
    fn account_key_mismatch_is_reported_with_the_expected_key() {
        let err = BankDetails::new(
            PersonalAcc::parse("40702810000000000001").unwrap(),
            BankName::parse("ПАО Сбербанк").unwrap(),
            Bic::parse("044525225").unwrap(),
            CorrespAcc::parse("30101810400000000225").unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            RequisiteError::AccountKey {
                field: Field::PersonalAcc,
                account: "40702810000000000001".into(),
                bic: "044525225".into(),
                expected: 2,
                found: 0,
            }
        );
        assert!(
            err.russian_message()
                .starts_with("Расчётный счёт 40702810000000000001 не соответствует БИК 044525225")
        );
        assert_eq!(sber().personal_acc().as_str(), "40702810200000000001");
    }

    #[test]
    fn treasury_account_skips_the_settlement_key() {
        let bank = BankDetails::new(
            PersonalAcc::parse("03100643000000018500").unwrap(),
            BankName::parse("ОТДЕЛЕНИЕ ТУЛА БАНКА РОССИИ").unwrap(),
            Bic::parse("017003983").unwrap(),
            CorrespAcc::parse("40102810445370000059").unwrap(),
        );
        assert!(bank.is_ok());
    }

    #[test]
    fn kpp_and_text_fields() {
        assert!(Kpp::parse("7707AB00").is_err());
        assert!(Kpp::parse("7707ab001").is_err());
        assert!(Kpp::parse("77070100A").is_err());
        assert_eq!(
            OrgName::parse("   "),
            Err(RequisiteError::Empty { field: Field::Name })
        );
        assert_eq!(
            OrgName::parse("a\tb"),
            Err(RequisiteError::ControlCharacter { field: Field::Name })
        );
        assert_eq!(
            OrgName::parse("a\u{2028}b"),
            Err(RequisiteError::ControlCharacter { field: Field::Name })
        );
        assert_eq!(
            BankName::parse(&"Б".repeat(46)),
            Err(RequisiteError::TooLong {
                field: Field::BankName,
                chars: 46,
                max: 45
            })
        );
        assert!(BankName::parse(&"Б".repeat(45)).is_ok());
        assert!(OrgName::parse(&"Я".repeat(160)).is_ok());
        assert!(Phone::parse("1").is_err());
        assert!(Phone::parse("+7 495 1234567890123").is_err());
        assert!(Phone::parse("7+495").is_err());
        assert_eq!(
            EmergencyPhone::new("", Phone::parse("04").unwrap()),
            Err(RequisiteError::Empty {
                field: Field::PhoneLabel
            })
        );
    }

    #[test]
    fn requisites_check_kpp_against_inn_kind_and_emergency_phones() {
        let emergency =
            || vec![EmergencyPhone::new("Аварийная служба", Phone::parse("112").unwrap()).unwrap()];
        let name = OrgName::parse("ПАО «Энергосбыт»").unwrap();
        let address = Address::parse("г. Москва, ул. Ленина, д. 1").unwrap();
        let legal = Inn::parse("7707083893").unwrap();
        let ie = Inn::parse("500100732259").unwrap();
        let kpp = Kpp::parse("770701001").unwrap();
        let new = |inn: &Inn, kpp: Option<Kpp>, em: Vec<EmergencyPhone>| {
            Requisites::new(
                name.clone(),
                inn.clone(),
                kpp,
                sber(),
                address.clone(),
                vec![],
                em,
            )
        };
        assert!(new(&legal, Some(kpp.clone()), emergency()).is_ok());
        assert_eq!(
            new(&legal, None, emergency()),
            Err(RequisiteError::KppRequired)
        );
        assert_eq!(
            new(&ie, Some(kpp.clone()), emergency()),
            Err(RequisiteError::KppNotApplicable)
        );
        assert!(new(&ie, None, emergency()).is_ok());
        assert_eq!(
            new(&legal, Some(kpp), vec![]),
            Err(RequisiteError::NoEmergencyPhone)
        );
    }

    #[test]
    fn russian_messages_name_the_field() {
        assert_eq!(
            RequisiteError::NotDigits {
                field: Field::Bic,
                expected: "9",
                found: "12".into()
            }
            .russian_message(),
            "БИК должен состоять из 9 цифр, введено «12»"
        );
        assert_eq!(
            RequisiteError::Empty {
                field: Field::Address
            }
            .to_string(),
            "address is empty"
        );
    }
}
