//! The card form of the hosted page: checking what the payer typed ([`check_card`]), the card's
//! brand ([`brand_of`]), and the **test cards** ([`TEST_CARDS`]) whose numbers choose how the
//! sandbox behaves.
//!
//! A number is accepted when, spaces removed, it is 16 to 19 digits and passes the Luhn check;
//! the expiry is `MM/YY`, a real month, not before the current month; the CVC is three digits.
//! Any accepted number that is not a test card pays successfully. The number itself goes no
//! further than [`check_card`]: only its last four digits and its brand are kept.

use std::fmt;

use time::OffsetDateTime;

use super::CardError;

/// The confirmation code of the 3-D Secure step (card `2200 0000 0000 0012`).
pub const CONFIRMATION_CODE: &str = "123456";

/// How many wrong confirmation codes fail the payment.
pub const MAX_CODE_ATTEMPTS: u32 = 3;

/// The failure reason after [`MAX_CODE_ATTEMPTS`] wrong codes (Russian, shown to the payer).
pub const TOO_MANY_CODES: &str = "Превышено число попыток ввода кода";

/// The decline reason of card `2200 0000 0000 0020`.
pub const INSUFFICIENT_FUNDS: &str = "Недостаточно средств";

/// The decline reason of card `2200 0000 0000 0038`.
pub const DECLINED_BY_BANK: &str = "Операция отклонена банком";

/// The brand of МИР cards (2200–2204).
pub const BRAND_MIR: &str = "МИР";
/// The brand of Visa cards (4…).
pub const BRAND_VISA: &str = "Visa";
/// The brand of Mastercard cards (51–55, 2221–2720).
pub const BRAND_MASTERCARD: &str = "Mastercard";
/// The brand shown for any other card.
pub const BRAND_OTHER: &str = "Другая";

/// What the sandbox does with a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardBehaviour {
    /// The payment succeeds at once.
    Succeed,
    /// The payment waits for the confirmation code ([`CONFIRMATION_CODE`]), then succeeds.
    ConfirmationCode,
    /// The payment is declined with this reason (Russian).
    Decline(&'static str),
    /// Succeeds; its `payment.succeeded` webhook is delivered twice (same event id).
    DuplicateWebhook,
    /// Succeeds; a stale `payment.pending` event is delivered after `payment.succeeded`.
    ReorderedWebhooks,
    /// Succeeds; the webhook's first attempt is due only after the gateway's
    /// `late_card_delay`.
    LateWebhook,
}

/// A test card, for the hosted page and the docs to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestCard {
    /// The number, digits only (Luhn-valid).
    pub number: &'static str,
    /// Its brand.
    pub brand: &'static str,
    /// What the sandbox does with it.
    pub behaviour: CardBehaviour,
    /// What it does, in Russian, for the page.
    pub description: &'static str,
}

impl TestCard {
    /// The number in groups of four (`2200 0000 0000 0004`), as printed on a card.
    pub fn grouped(&self) -> String {
        let digits: Vec<char> = self.number.chars().collect();
        let groups: Vec<String> = digits.chunks(4).map(|c| c.iter().collect()).collect();
        groups.join(" ")
    }
}

/// The test cards (any expiry not in the past, any three-digit CVC).
pub const TEST_CARDS: &[TestCard] = &[
    TestCard {
        number: "2200000000000004",
        brand: BRAND_MIR,
        behaviour: CardBehaviour::Succeed,
        description: "Успешная оплата",
    },
    TestCard {
        number: "4111111111111111",
        brand: BRAND_VISA,
        behaviour: CardBehaviour::Succeed,
        description: "Успешная оплата",
    },
    TestCard {
        number: "5555555555554444",
        brand: BRAND_MASTERCARD,
        behaviour: CardBehaviour::Succeed,
        description: "Успешная оплата",
    },
    TestCard {
        number: "2200000000000012",
        brand: BRAND_MIR,
        behaviour: CardBehaviour::ConfirmationCode,
        description: "Успешная оплата после ввода кода подтверждения 123456 \
                      (код также приходит SMS на телефон плательщика)",
    },
    TestCard {
        number: "2200000000000020",
        brand: BRAND_MIR,
        behaviour: CardBehaviour::Decline(INSUFFICIENT_FUNDS),
        description: "Отказ: «Недостаточно средств»",
    },
    TestCard {
        number: "2200000000000038",
        brand: BRAND_MIR,
        behaviour: CardBehaviour::Decline(DECLINED_BY_BANK),
        description: "Отказ: «Операция отклонена банком»",
    },
    TestCard {
        number: "2200000000000046",
        brand: BRAND_MIR,
        behaviour: CardBehaviour::DuplicateWebhook,
        description: "Успешная оплата; уведомление о ней приходит дважды",
    },
    TestCard {
        number: "2200000000000053",
        brand: BRAND_MIR,
        behaviour: CardBehaviour::ReorderedWebhooks,
        description: "Успешная оплата; уведомления приходят не по порядку \
                      (устаревшее «ожидает оплаты» после «оплачен»)",
    },
    TestCard {
        number: "2200000000000061",
        brand: BRAND_MIR,
        behaviour: CardBehaviour::LateWebhook,
        description: "Успешная оплата; уведомление о ней приходит с опозданием",
    },
];

/// What the payer typed into the card form. Its `Debug` hides the number and the CVC.
#[derive(Clone, PartialEq, Eq)]
pub struct CardForm {
    /// The card number, spaces allowed.
    pub number: String,
    /// The expiry, `MM/YY`.
    pub expiry: String,
    /// The three-digit code on the back.
    pub cvc: String,
}

impl fmt::Debug for CardForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardForm")
            .field("number", &"<redacted>")
            .field("expiry", &self.expiry)
            .field("cvc", &"<redacted>")
            .finish()
    }
}

/// What is kept of an accepted card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedCard {
    /// The last four digits.
    pub last4: String,
    /// The brand.
    pub brand: &'static str,
    /// What the sandbox does with it.
    pub behaviour: CardBehaviour,
}

/// Checks the form at `now` (the expiry month is compared in UTC); on success returns only
/// what may be kept of the card.
pub fn check_card(form: &CardForm, now: OffsetDateTime) -> Result<AcceptedCard, CardError> {
    let digits: String = form.number.chars().filter(|c| !c.is_whitespace()).collect();
    if !(16..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardError::InvalidNumber);
    }
    if !luhn_valid(&digits) {
        return Err(CardError::ChecksumMismatch);
    }
    let (month, year) = parse_expiry(&form.expiry).ok_or(CardError::InvalidExpiry)?;
    let now = now.to_offset(time::UtcOffset::UTC);
    if (year, month) < (now.year(), u8::from(now.month())) {
        return Err(CardError::Expired);
    }
    let cvc = form.cvc.trim();
    if cvc.len() != 3 || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardError::InvalidCvc);
    }
    let behaviour = TEST_CARDS
        .iter()
        .find(|card| card.number == digits)
        .map_or(CardBehaviour::Succeed, |card| card.behaviour);
    Ok(AcceptedCard {
        last4: digits[digits.len() - 4..].to_owned(),
        brand: brand_of(&digits),
        behaviour,
    })
}

/// Whether a string of ASCII digits passes the Luhn check.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The brand of a card number (digits): МИР for 2200–2204, Visa for 4, Mastercard for 51–55
/// and 2221–2720, [`BRAND_OTHER`] otherwise.
pub fn brand_of(digits: &str) -> &'static str {
    let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok());
    match (prefix(1), prefix(2), prefix(4)) {
        (_, _, Some(2200..=2204)) => BRAND_MIR,
        (_, _, Some(2221..=2720)) | (_, Some(51..=55), _) => BRAND_MASTERCARD,
        (Some(4), _, _) => BRAND_VISA,
        _ => BRAND_OTHER,
    }
}

/// `MM/YY` (spaces around the parts allowed) as (month 1–12, year 2000–2099).
fn parse_expiry(text: &str) -> Option<(u8, i32)> {
    let (mm, yy) = text.trim().split_once('/')?;
    let two_digits = |s: &str| {
        let s = s.trim();
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u8>().ok())
            .flatten()
    };
    let month = two_digits(mm).filter(|m| (1..=12).contains(m))?;
    let year = two_digits(yy)?;
    Some((month, 2000 + i32::from(year)))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-15 10:00 UTC);

    fn form(number: &str, expiry: &str, cvc: &str) -> CardForm {
        CardForm {
            number: number.to_owned(),
            expiry: expiry.to_owned(),
            cvc: cvc.to_owned(),
        }
    }

    #[test]
    fn every_test_card_is_luhn_valid_distinct_and_of_its_brand() {
        for (i, card) in TEST_CARDS.iter().enumerate() {
            assert!(luhn_valid(card.number), "{}", card.number);
            assert_eq!(brand_of(card.number), card.brand, "{}", card.number);
            assert!(TEST_CARDS[..i].iter().all(|c| c.number != card.number));
            let accepted = check_card(&form(&card.grouped(), "12/26", "000"), NOW).unwrap();
            assert_eq!(accepted.behaviour, card.behaviour);
            assert_eq!(accepted.last4, card.number[12..]);
        }
        assert_eq!(TEST_CARDS[0].grouped(), "2200 0000 0000 0004");
    }

    #[test]
    fn luhn_rejects_a_changed_digit() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid("2200000000000005"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("42a2"));
    }

    #[test]
    fn brands_by_prefix() {
        let cases = [
            ("2204000000000000", BRAND_MIR),
            ("2205000000000000", BRAND_OTHER),
            ("2221000000000000", BRAND_MASTERCARD),
            ("2720990000000000", BRAND_MASTERCARD),
            ("2721000000000000", BRAND_OTHER),
            ("5100000000000000", BRAND_MASTERCARD),
            ("5600000000000000", BRAND_OTHER),
            ("4000000000000000", BRAND_VISA),
            ("3530111333300000", BRAND_OTHER),
        ];
        for (number, brand) in cases {
            assert_eq!(brand_of(number), brand, "{number}");
        }
    }

    #[test]
    fn malformed_forms_are_refused_with_the_matching_error() {
        let cases = [
            (
                "2200 0000 0000 004",
                "12/26",
                "123",
                CardError::InvalidNumber,
            ),
            (
                "22000000000000040000",
                "12/26",
                "123",
                CardError::InvalidNumber,
            ),
            (
                "2200-0000-0000-0004",
                "12/26",
                "123",
                CardError::InvalidNumber,
            ),
            (
                "2200000000000005",
                "12/26",
                "123",
                CardError::ChecksumMismatch,
            ),
            ("2200000000000004", "13/26", "123", CardError::InvalidExpiry),
            ("2200000000000004", "00/26", "123", CardError::InvalidExpiry),
            ("2200000000000004", "1226", "123", CardError::InvalidExpiry),
            ("2200000000000004", "1/26", "123", CardError::InvalidExpiry),
            ("2200000000000004", "11/26", "123", CardError::Expired),
            ("2200000000000004", "12/25", "123", CardError::Expired),
            ("2200000000000004", "12/26", "12", CardError::InvalidCvc),
            ("2200000000000004", "12/26", "12a", CardError::InvalidCvc),
            ("2200000000000004", "12/26", "1234", CardError::InvalidCvc),
        ];
        for (number, expiry, cvc, error) in cases {
            let form = form(number, expiry, cvc);
            assert_eq!(check_card(&form, NOW), Err(error), "{form:?}");
        }
        // The current month is still valid; 19 digits and spaces are fine.
        assert!(check_card(&form(" 2200000000000004 ", " 12 / 26 ", " 123 "), NOW).is_ok());
        let long = "4000000000000000006";
        assert!(luhn_valid(long));
        let accepted = check_card(&form(long, "01/40", "123"), NOW).unwrap();
        assert_eq!(accepted.behaviour, CardBehaviour::Succeed);
        assert_eq!(
            (accepted.last4.as_str(), accepted.brand),
            ("0006", BRAND_VISA)
        );
    }

    #[test]
    fn the_form_debug_hides_the_number_and_cvc() {
        let shown = format!("{:?}", form("2200000000000004", "12/26", "987"));
        assert!(
            !shown.contains("2200000000000004") && !shown.contains("987"),
            "{shown}"
        );
        assert!(shown.contains("12/26"));
    }
}
