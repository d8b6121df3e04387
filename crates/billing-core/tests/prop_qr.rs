//! Property tests of the payment QR payload (ГОСТ Р 56042-2014), the VAT breakdown and the
//! requisites' check digits.
//!
//! The QR tests build payloads from arbitrary values — Cyrillic, `|`, `=`, spaces, every
//! separator candidate, control characters — and check each builder step against an oracle
//! written from the documented rules: a step either succeeds or fails with exactly the documented
//! error, and whatever is built encodes to text that parses back to the same pairs.

use std::collections::BTreeMap;

use billing_core::money::Money;
use billing_core::qr::{
    DEFAULT_SEPARATORS, MANDATORY_BLOCK_MAX_BYTES, PURPOSE_MAX_CHARS, QrError, QrPayload, parse,
};
use billing_core::requisites::{
    AccountKind, BankDetails, BankName, Bic, CorrespAcc, Field, Inn, OrgName, PersonalAcc,
    RequisiteError, account_control_key,
};
use billing_core::vat::{VatBreakdown, VatRate};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Characters values are drawn from: mostly Cyrillic and Latin text, with the characters that
/// matter to the format (`|`, `=`, every separator candidate, spaces) and, rarely, forbidden ones.
fn value_char(forbidden: bool) -> BoxedStrategy<char> {
    let base = prop_oneof![
        6 => prop::char::range('а', 'я'),
        2 => prop::char::range('А', 'Я'),
        3 => prop::char::range('a', 'z'),
        2 => prop::char::range('0', '9'),
        2 => Just(' '),
        3 => prop::sample::select(vec!['|', '=', '#', ';', '~', '^', '«', '»', '"', '.', ',', '-', '№', 'ё', '/']),
    ];
    if forbidden {
        prop_oneof![
            30 => base,
            1 => prop::sample::select(vec!['\n', '\r', '\t', '\u{0}', '\u{7f}', '\u{85}', '\u{2028}', '\u{2029}']),
        ]
        .boxed()
    } else {
        base.boxed()
    }
}

fn text(len: std::ops::RangeInclusive<usize>, forbidden: bool) -> impl Strategy<Value = String> {
    prop::collection::vec(value_char(forbidden), len).prop_map(|v| v.into_iter().collect())
}

fn is_forbidden(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// 20 digits with the control key of `kind` against `bic` in the 9th place.
fn keyed_account(bic: &Bic, kind: AccountKind, digits: &[u8]) -> String {
    let mut s: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let key = account_control_key(bic, kind, &s).expect("20 digits");
    s.replace_range(8..9, &key.to_string());
    s
}

fn digits(n: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0u8..10, n)
}

/// Valid bank details from random digits (never a treasury account: the first digit is 1–9).
fn bank_details(
    bank_name: BankName,
    bic: &[u8],
    first: u8,
    acc: &[u8],
    corr: &[u8],
) -> BankDetails {
    let bic = Bic::parse(&bic.iter().map(|d| char::from(b'0' + d)).collect::<String>())
        .expect("9 digits");
    let mut acc_digits = vec![first];
    acc_digits.extend_from_slice(acc);
    let personal = keyed_account(&bic, AccountKind::Settlement, &acc_digits);
    let corresp = keyed_account(&bic, AccountKind::Correspondent, corr);
    BankDetails::new(
        PersonalAcc::parse(&personal).expect("20 digits"),
        bank_name,
        bic,
        CorrespAcc::parse(&corresp).expect("20 digits"),
    )
    .expect("keys were computed")
}

/// The free-text setters of the builder, and two extra keys.
#[derive(Debug, Clone, Copy)]
enum TextKey {
    Purpose,
    PersAcc,
    LastName,
    FirstName,
    MiddleName,
    PayerAddress,
    CounterId,
    Category,
    Flat,
    ServiceName,
}

impl TextKey {
    fn name(self) -> &'static str {
        match self {
            TextKey::Purpose => "Purpose",
            TextKey::PersAcc => "PersAcc",
            TextKey::LastName => "LastName",
            TextKey::FirstName => "FirstName",
            TextKey::MiddleName => "MiddleName",
            TextKey::PayerAddress => "PayerAddress",
            TextKey::CounterId => "CounterId",
            TextKey::Category => "Category",
            TextKey::Flat => "Flat",
            TextKey::ServiceName => "ServiceName",
        }
    }

    fn apply(self, qr: QrPayload, value: &str) -> Result<QrPayload, QrError> {
        match self {
            TextKey::Purpose => qr.purpose(value),
            TextKey::PersAcc => qr.pers_acc(value),
            TextKey::LastName => qr.last_name(value),
            TextKey::FirstName => qr.first_name(value),
            TextKey::MiddleName => qr.middle_name(value),
            TextKey::PayerAddress => qr.payer_address(value),
            TextKey::CounterId => qr.counter_id(value),
            TextKey::Category => qr.category(value),
            TextKey::Flat | TextKey::ServiceName => qr.extra(self.name(), value),
        }
    }
}

fn text_key() -> impl Strategy<Value = TextKey> {
    prop::sample::select(vec![
        TextKey::Purpose,
        TextKey::PersAcc,
        TextKey::LastName,
        TextKey::FirstName,
        TextKey::MiddleName,
        TextKey::PayerAddress,
        TextKey::CounterId,
        TextKey::Category,
        TextKey::Flat,
        TextKey::ServiceName,
    ])
}

/// An optional value: arbitrary text, sometimes long, sometimes with every separator candidate.
fn optional_value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => text(0..=40, true),
        1 => text(200..=220, false),
        2 => text(0..=10, false).prop_map(|t| format!("{t}{}", DEFAULT_SEPARATORS.iter().collect::<String>())),
    ]
}

fn all_candidates_used<'a>(values: impl Iterator<Item = &'a String> + Clone) -> bool {
    DEFAULT_SEPARATORS
        .iter()
        .all(|c| values.clone().any(|v| v.contains(*c)))
}

/// The size of the mandatory block counted on the text itself: everything before the separator
/// that follows the fifth pair.
fn mandatory_prefix_bytes(text: &str, separator: char) -> usize {
    let body = &text[8..];
    let five: usize = body.split(separator).take(5).map(str::len).sum();
    8 + five + 4 * separator.len_utf8()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn payload_round_trips_or_fails_with_the_documented_error(
        name in text(1..=120, false),
        bank_name in text(1..=45, false),
        bank_digits in (digits(9), 1u8..10, digits(19), digits(20)),
        ops in prop::collection::vec((text_key(), optional_value()), 0..8),
        sum in prop::option::of(-1_000i64..1_000_000_000_000),
    ) {
        let (Ok(org), Ok(bank_name)) = (OrgName::parse(&name), BankName::parse(&bank_name)) else {
            // Only whitespace: the requisites refuse it, there is nothing to encode.
            prop_assert!(name.trim().is_empty() || bank_name.trim().is_empty());
            return Ok(());
        };
        let (bic, first, acc, corr) = bank_digits;
        let bank = bank_details(bank_name, &bic, first, &acc, &corr);

        // The oracle's view of the values in the payload, by key.
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        values.insert("Name".into(), org.as_str().into());
        values.insert("PersonalAcc".into(), bank.personal_acc().as_str().into());
        values.insert("BankName".into(), bank.bank_name().as_str().into());
        values.insert("BIC".into(), bank.bic().as_str().into());
        values.insert("CorrespAcc".into(), bank.corresp_acc().as_str().into());

        let block = format!(
            "ST00012|Name={}|PersonalAcc={}|BankName={}|BIC={}|CorrespAcc={}",
            org, bank.personal_acc(), bank.bank_name(), bank.bic(), bank.corresp_acc()
        ).len();
        let mut qr = match QrPayload::new(&org, &bank) {
            Ok(qr) => {
                prop_assert!(block <= MANDATORY_BLOCK_MAX_BYTES);
                prop_assert!(!all_candidates_used(values.values()));
                qr
            }
            Err(e) => {
                let expected = if block > MANDATORY_BLOCK_MAX_BYTES {
                    QrError::MandatoryBlockTooLong { bytes: block, max: MANDATORY_BLOCK_MAX_BYTES }
                } else {
                    prop_assert!(all_candidates_used(values.values()));
                    QrError::NoSeparatorAvailable { candidates: DEFAULT_SEPARATORS.iter().collect() }
                };
                prop_assert_eq!(e, expected);
                return Ok(());
            }
        };

        for (key, value) in ops {
            let name = key.name().to_owned();
            let result = key.apply(qr.clone(), &value);
            let chars = value.chars().count();
            let expected = if value.is_empty() {
                Some(QrError::EmptyValue { key: name.clone() })
            } else if value.chars().any(is_forbidden) {
                Some(QrError::ControlCharacter { key: name.clone() })
            } else if matches!(key, TextKey::Purpose) && chars > PURPOSE_MAX_CHARS {
                Some(QrError::TooLong { key: name.clone(), chars, max: PURPOSE_MAX_CHARS })
            } else {
                let mut tentative = values.clone();
                tentative.insert(name.clone(), value.clone());
                if all_candidates_used(tentative.values()) {
                    Some(QrError::NoSeparatorAvailable { candidates: DEFAULT_SEPARATORS.iter().collect() })
                } else {
                    None
                }
            };
            match (result, expected) {
                (Ok(next), None) => {
                    values.insert(name, value);
                    qr = next;
                }
                (Err(e), Some(expected)) => prop_assert_eq!(e, expected),
                (result, expected) => prop_assert!(false, "{name}={value:?}: got {result:?}, expected {expected:?}"),
            }
        }

        if let Some(kopecks) = sum {
            let amount = Money::from_kopecks(kopecks);
            match qr.clone().sum(amount) {
                Ok(next) => {
                    prop_assert!(kopecks > 0);
                    values.insert("Sum".into(), kopecks.to_string());
                    qr = next;
                }
                Err(e) => {
                    prop_assert!(kopecks <= 0);
                    prop_assert_eq!(e, QrError::NonPositiveAmount { key: "Sum".into(), amount });
                }
            }
        }

        let text = qr.encode();
        let separator = qr.separator();
        prop_assert!(DEFAULT_SEPARATORS.contains(&separator));
        // The separator occurs in no value, so splitting the text finds exactly the pairs.
        for (key, value) in qr.pairs() {
            prop_assert!(!value.contains(separator), "{key}={value:?} contains {separator:?}");
        }
        // Exactly the values the oracle expects are written, each under its key.
        let written: BTreeMap<String, String> = qr.pairs().into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(&written, &values);
        // The mandatory block is within the limit, counted on the encoded bytes.
        prop_assert_eq!(mandatory_prefix_bytes(&text, separator), qr.mandatory_block_bytes());
        prop_assert!(qr.mandatory_block_bytes() <= MANDATORY_BLOCK_MAX_BYTES);
        // Sum, when present, is digits only.
        if let Some(s) = qr.get("Sum") {
            prop_assert!(!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()), "Sum={s:?}");
        }
        // Parsing gives back every pair in order, and writing the parse gives back the text.
        let parsed = parse(&text).expect("an encoded payload parses");
        prop_assert_eq!(parsed.separator(), separator);
        prop_assert_eq!(parsed.pairs(), qr.pairs());
        prop_assert_eq!(parsed.to_string(), text);
        prop_assert_eq!(parsed.sum().expect("digits"), sum.filter(|k| *k > 0).map(Money::from_kopecks));
    }

    #[test]
    fn sum_is_positive_kopecks_written_as_digits_only(kopecks in any::<i64>()) {
        let org = OrgName::parse("ООО «Ромашка»").expect("valid");
        let bank = BankDetails::new(
            PersonalAcc::parse("40702810200000000001").expect("valid"),
            BankName::parse("ПАО Сбербанк").expect("valid"),
            Bic::parse("044525225").expect("valid"),
            CorrespAcc::parse("30101810400000000225").expect("valid"),
        ).expect("valid");
        let qr = QrPayload::new(&org, &bank).expect("short");
        let amount = Money::from_kopecks(kopecks);
        match qr.sum(amount) {
            Ok(qr) => {
                let s = qr.get("Sum").expect("set");
                prop_assert!(s.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(s, kopecks.to_string());
                prop_assert!(kopecks > 0 && s.len() <= 18);
                prop_assert_eq!(parse(&qr.encode()).expect("parses").sum(), Ok(Some(amount)));
            }
            Err(QrError::NonPositiveAmount { amount: a, .. }) => prop_assert!(kopecks <= 0 && a == amount),
            Err(QrError::AmountTooLarge { amount: a, .. }) => prop_assert!(kopecks.to_string().len() > 18 && a == amount),
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }

    #[test]
    fn vat_breakdown_adds_up_exactly_per_line_and_in_total(
        lines in prop::collection::vec(
            (
                -100_000_000_000i64..100_000_000_000,
                prop_oneof![
                    prop::sample::select(vec![VatRate::ZERO, VatRate::TEN, VatRate::EIGHTEEN, VatRate::TWENTY, VatRate::TWENTY_TWO]),
                    (0i64..=10_000).prop_map(|bp| VatRate::percent(Decimal::new(bp, 2)).expect("0–100 %")),
                ],
            ),
            0..20,
        ),
    ) {
        let b = VatBreakdown::per_line(lines.iter().map(|(k, r)| (Money::from_kopecks(*k), *r)));
        prop_assert_eq!(b.lines().len(), lines.len());
        let half_kopeck = Decimal::new(5, 3);
        for (line, (k, r)) in b.lines().iter().zip(&lines) {
            prop_assert_eq!(line.gross(), Money::from_kopecks(*k));
            prop_assert_eq!(line.vat() + line.net(), line.gross());
            // The VAT is the exact share rounded to the nearest kopeck.
            let exact = line.gross().amount() * r.as_percent() / (Decimal::ONE_HUNDRED + r.as_percent());
            prop_assert!((line.vat().amount() - exact).abs() <= half_kopeck);
            // VAT has the sign of the gross amount and never exceeds it.
            prop_assert!(line.vat().abs() <= line.gross().abs());
            prop_assert!(!(line.vat().is_positive() && line.gross().is_negative()));
        }
        prop_assert_eq!(b.total_vat() + b.total_net(), b.total_gross());
        prop_assert_eq!(b.total_gross(), lines.iter().map(|(k, _)| Money::from_kopecks(*k)).sum::<Money>());
        prop_assert_eq!(b.total_vat(), b.lines().iter().map(|l| l.vat()).sum::<Money>());
        let by_rate = b.by_rate();
        prop_assert_eq!(by_rate.iter().map(|t| t.gross).sum::<Money>(), b.total_gross());
        prop_assert_eq!(by_rate.iter().map(|t| t.vat).sum::<Money>(), b.total_vat());
        for t in &by_rate {
            prop_assert_eq!(t.vat + t.net, t.gross);
        }
    }

    #[test]
    fn exactly_one_check_digit_completes_an_inn(prefix9 in digits(9), prefix10 in digits(10)) {
        let p9: String = prefix9.iter().map(|d| char::from(b'0' + d)).collect();
        let valid10 = (0..10).filter(|d| Inn::parse(&format!("{p9}{d}")).is_ok()).count();
        prop_assert_eq!(valid10, 1);
        let p10: String = prefix10.iter().map(|d| char::from(b'0' + d)).collect();
        let valid12 = (0..100).filter(|d| Inn::parse(&format!("{p10}{d:02}")).is_ok()).count();
        prop_assert_eq!(valid12, 1);
    }

    #[test]
    fn any_single_digit_typo_in_an_account_is_caught(
        bic in digits(9),
        first in 1u8..10,
        rest in digits(19),
        position in 0usize..20,
        delta in 1u8..10,
    ) {
        let bic = Bic::parse(&bic.iter().map(|d| char::from(b'0' + d)).collect::<String>()).expect("9 digits");
        let mut acc = vec![first];
        acc.extend(rest);
        let good = keyed_account(&bic, AccountKind::Settlement, &acc);
        let corr = keyed_account(&bic, AccountKind::Correspondent, &[3, 0, 1, 0, 1, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 5]);
        let details = |acc: &str| BankDetails::new(
            PersonalAcc::parse(acc).expect("20 digits"),
            BankName::parse("Банк").expect("valid"),
            bic.clone(),
            CorrespAcc::parse(&corr).expect("20 digits"),
        );
        prop_assert!(details(&good).is_ok());
        let mut typo = good.clone().into_bytes();
        typo[position] = b'0' + (typo[position] - b'0' + delta) % 10;
        let typo = String::from_utf8(typo).expect("ascii");
        if typo.starts_with("03") {
            // A treasury account is not checked against the БИК.
            prop_assert!(details(&typo).is_ok());
        } else {
            let is_key_error = matches!(details(&typo), Err(RequisiteError::AccountKey { field: Field::PersonalAcc, .. }));
            prop_assert!(is_key_error);
        }
    }
}
