//! [`FiscalReceipt`] ⇄ a `fiscal_receipts` row, and the row back as a [`StoredReceipt`].
//!
//! The key (payment, kind, refund request — 0 for none), the account and the receipt's time are
//! columns, for the UNIQUE guard and the queries; the whole receipt is `document`, the JSON of
//! this adapter's own [`Document`], which mirrors [`FiscalReceipt`] field by field. The core's
//! types are not read back through their serde forms: every enum is a storage-owned copy whose
//! snake_case variant names are what is stored, money and VAT rates are exact decimal text,
//! periods `year * 100 + month`, services their tags ([`super::billing::service_tag`]) and the
//! time nanoseconds since the Unix epoch. The golden test below pins the JSON, so a change of
//! the stored format is deliberate.
//!
//! Reading back re-parses every value with the domain's own `parse`; a document that does not
//! parse, a column that disagrees with it, or registration columns set only in part is a
//! [`CorruptRow`]. The registration is four nullable columns, all set or all NULL.

use billing_core::ids::{AccountId, PaymentId, RefundRequestId};
use billing_core::model::AccountNumber;
use billing_core::online::ReceiptContact;
use billing_core::ports::RepoError;
use billing_core::receipt::{
    FiscalReceipt, FiscalRegistration, ItemVat, PaymentMethodSign, PaymentSubject, ReceiptId,
    ReceiptItem, ReceiptKind, StoredReceipt, TaxationSystem, VatTotal,
};
use billing_core::requisites::{Inn, OrgName};
use billing_core::vat::VatRate;
use serde::{Deserialize, Serialize};

use super::Row;
use super::billing::{money, period_code, service_tag, to_db_id, to_db_nanos};
use crate::CorruptRow;
use crate::entity::Exact;
use crate::entity::fiscal_receipt::{ActiveModel, Model};

/// The table name.
pub const TABLE: &str = "fiscal_receipts";

/// The tag of a receipt kind in the `kind` column (the same words as in the document).
pub fn kind_tag(kind: ReceiptKind) -> &'static str {
    match kind {
        ReceiptKind::Income => "income",
        ReceiptKind::IncomeReturn => "income_return",
    }
}

/// The `refund_request_id` column of a key's refund: 0 for none. `None` for a refund request
/// id 0, which could not be told apart from none and so is never stored.
pub fn refund_column(refund: Option<RefundRequestId>) -> Result<Option<i64>, RepoError> {
    match refund {
        None => Ok(Some(0)),
        Some(r) if r.get() == 0 => Ok(None),
        Some(r) => to_db_id(r.get()).map(Some),
    }
}

/// A storage-owned copy of a domain enum: its variants' snake_case names are what is stored,
/// and both conversions are exhaustive matches, so a variant added to (or renamed in) the
/// domain fails to compile here instead of silently changing the stored format.
macro_rules! mirror {
    ($(#[$doc:meta])* $name:ident = $domain:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum $name {
            $($variant),+
        }

        impl From<$domain> for $name {
            fn from(v: $domain) -> Self {
                match v {
                    $($domain::$variant => $name::$variant),+
                }
            }
        }

        impl From<$name> for $domain {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => $domain::$variant),+
                }
            }
        }
    };
}

mirror!(
    /// [`ReceiptKind`] as stored.
    Kind = ReceiptKind { Income, IncomeReturn }
);
mirror!(
    /// [`PaymentMethodSign`] as stored.
    Method = PaymentMethodSign {
        FullPrepayment,
        Prepayment,
        Advance,
        FullPayment,
        CreditPayment,
    }
);
mirror!(
    /// [`PaymentSubject`] as stored.
    Subject = PaymentSubject {
        Service,
        Payment,
        Other,
        NonOperatingIncome,
    }
);
mirror!(
    /// [`TaxationSystem`] as stored.
    Taxation = TaxationSystem {
        General,
        SimplifiedIncome,
        SimplifiedIncomeMinusExpense,
        Agricultural,
        Patent,
    }
);

/// [`ItemVat`] as stored: `{"kind": "rate", "rate": "22"}`, the rate in percent as exact text.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "rate")]
enum Vat {
    NotSubject,
    Rate(String),
    Calculated(String),
}

/// A [`ReceiptItem`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    name: String,
    service: Option<String>,
    period: Option<i32>,
    amount: String,
    vat: Vat,
    vat_amount: String,
    method: Method,
    subject: Subject,
}

/// A [`VatTotal`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Total {
    vat: Vat,
    amount: String,
    vat_amount: String,
}

/// A [`ReceiptContact`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Contact {
    email: Option<String>,
    phone: Option<String>,
}

/// A [`FiscalReceipt`] as stored in `document`, field by field.
#[derive(Debug, Serialize, Deserialize)]
struct Document {
    kind: Kind,
    payment: u64,
    refund: Option<u64>,
    account: u64,
    account_number: String,
    seller_inn: String,
    seller_name: String,
    taxation: Taxation,
    items: Vec<Item>,
    total: String,
    vat_totals: Vec<Total>,
    contact: Contact,
    /// Nanoseconds since the Unix epoch.
    at: i64,
}

fn vat_doc(vat: ItemVat) -> Vat {
    let percent = |r: VatRate| r.as_percent().to_string();
    match vat {
        ItemVat::NotSubject => Vat::NotSubject,
        ItemVat::Rate(r) => Vat::Rate(percent(r)),
        ItemVat::Calculated(r) => Vat::Calculated(percent(r)),
    }
}

fn document(r: &FiscalReceipt) -> Result<Document, RepoError> {
    let text = |m: billing_core::money::Money| money(m).0;
    Ok(Document {
        kind: r.kind.into(),
        payment: r.payment.get(),
        refund: r.refund.map(RefundRequestId::get),
        account: r.account.get(),
        account_number: r.account_number.as_str().to_owned(),
        seller_inn: r.seller_inn.as_str().to_owned(),
        seller_name: r.seller_name.as_str().to_owned(),
        taxation: r.taxation.into(),
        items: r
            .items
            .iter()
            .map(|i| Item {
                name: i.name.clone(),
                service: i.service.map(|s| service_tag(s).to_owned()),
                period: i.period.map(period_code),
                amount: text(i.amount),
                vat: vat_doc(i.vat),
                vat_amount: text(i.vat_amount),
                method: i.method.into(),
                subject: i.subject.into(),
            })
            .collect(),
        total: text(r.total),
        vat_totals: r
            .vat_totals
            .iter()
            .map(|t| Total {
                vat: vat_doc(t.vat),
                amount: text(t.amount),
                vat_amount: text(t.vat_amount),
            })
            .collect(),
        contact: Contact {
            email: r.contact.email.clone(),
            phone: r.contact.phone.clone(),
        },
        at: to_db_nanos(r.at)?,
    })
}

/// The JSON `document` of `receipt`.
pub fn document_json(receipt: &FiscalReceipt) -> Result<String, RepoError> {
    serde_json::to_string(&document(receipt)?)
        .map_err(|e| RepoError::Unavailable(format!("encode fiscal receipt: {e}")))
}

/// The row of a newly claimed receipt: pending, its id left to the database.
pub fn to_row(receipt: &FiscalReceipt) -> Result<ActiveModel, RepoError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    let refund = refund_column(receipt.refund)?
        .ok_or_else(|| RepoError::Unavailable("refund request id 0 cannot be stored".into()))?;
    Ok(ActiveModel {
        id: NotSet,
        payment_id: Set(to_db_id(receipt.payment.get())?),
        kind: Set(kind_tag(receipt.kind).to_owned()),
        refund_request_id: Set(refund),
        account_id: Set(to_db_id(receipt.account.get())?),
        document: Set(document_json(receipt)?),
        fiscal_number: Set(None),
        document_number: Set(None),
        fiscal_sign: Set(None),
        registered_at: Set(None),
        claimed_at: Set(to_db_nanos(receipt.at)?),
    })
}

/// The fiscal document number as stored.
pub fn document_number(registration: &FiscalRegistration) -> Result<i64, RepoError> {
    i64::try_from(registration.document_number).map_err(|_| {
        RepoError::Unavailable(format!(
            "fiscal document number {} is too large to store",
            registration.document_number
        ))
    })
}

impl Row {
    fn vat(&self, column: &str, vat: Vat) -> Result<ItemVat, CorruptRow> {
        let rate = |percent: String| {
            let d = self.decimal(column, &Exact(percent))?;
            self.parse(column, VatRate::percent(d))
        };
        Ok(match vat {
            Vat::NotSubject => ItemVat::NotSubject,
            Vat::Rate(r) => ItemVat::Rate(rate(r)?),
            Vat::Calculated(r) => ItemVat::Calculated(rate(r)?),
        })
    }

    fn receipt(&self, d: Document) -> Result<FiscalReceipt, CorruptRow> {
        let money = |column: &str, text: String| self.money(column, &Exact(text));
        let items = d
            .items
            .into_iter()
            .map(|i| {
                Ok(ReceiptItem {
                    name: i.name,
                    service: i
                        .service
                        .map(|s| self.service("document.items.service", Some(&s)))
                        .transpose()?,
                    period: i
                        .period
                        .map(|p| self.period("document.items.period", p))
                        .transpose()?,
                    amount: money("document.items.amount", i.amount)?,
                    vat: self.vat("document.items.vat", i.vat)?,
                    vat_amount: money("document.items.vat_amount", i.vat_amount)?,
                    method: i.method.into(),
                    subject: i.subject.into(),
                })
            })
            .collect::<Result<_, CorruptRow>>()?;
        let vat_totals = d
            .vat_totals
            .into_iter()
            .map(|t| {
                Ok(VatTotal {
                    vat: self.vat("document.vat_totals.vat", t.vat)?,
                    amount: money("document.vat_totals.amount", t.amount)?,
                    vat_amount: money("document.vat_totals.vat_amount", t.vat_amount)?,
                })
            })
            .collect::<Result<_, CorruptRow>>()?;
        Ok(FiscalReceipt {
            kind: d.kind.into(),
            payment: PaymentId::new(d.payment),
            refund: d.refund.map(RefundRequestId::new),
            account: AccountId::new(d.account),
            account_number: self.parse(
                "document.account_number",
                AccountNumber::parse(&d.account_number),
            )?,
            seller_inn: self.parse("document.seller_inn", Inn::parse(&d.seller_inn))?,
            seller_name: self.parse("document.seller_name", OrgName::parse(&d.seller_name))?,
            taxation: d.taxation.into(),
            items,
            total: money("document.total", d.total)?,
            vat_totals,
            contact: ReceiptContact {
                email: d.contact.email,
                phone: d.contact.phone,
            },
            at: self.time("document.at", d.at)?,
        })
    }

    fn registration(&self, m: &Model) -> Result<Option<FiscalRegistration>, CorruptRow> {
        match (
            &m.fiscal_number,
            m.document_number,
            &m.fiscal_sign,
            m.registered_at,
        ) {
            (None, None, None, None) => Ok(None),
            (Some(fiscal_number), Some(number), Some(fiscal_sign), Some(at)) => {
                Ok(Some(FiscalRegistration {
                    fiscal_number: fiscal_number.clone(),
                    document_number: u64::try_from(number).map_err(|_| {
                        self.bad("document_number", format!("{number} is negative"))
                    })?,
                    fiscal_sign: fiscal_sign.clone(),
                    registered_at: self.time("registered_at", at)?,
                }))
            }
            _ => Err(self.bad("registered_at", "registration columns set only in part")),
        }
    }
}

/// The receipt a row stores, checked against the row's key, account and time columns.
pub fn from_row(m: Model) -> Result<StoredReceipt, CorruptRow> {
    let row = Row::new(TABLE, format!("id {}", m.id));
    let doc: Document = row.json("document", &m.document)?;
    let receipt = row.receipt(doc)?;
    let disagrees = |column: &str| row.bad(column, "disagrees with the document");
    let refund = receipt
        .refund
        .map_or(0, |r| i64::try_from(r.get()).unwrap_or(-1));
    if u64::try_from(m.payment_id).ok() != Some(receipt.payment.get()) {
        return Err(disagrees("payment_id"));
    }
    if m.kind != kind_tag(receipt.kind) {
        return Err(disagrees("kind"));
    }
    if m.refund_request_id != refund {
        return Err(disagrees("refund_request_id"));
    }
    if u64::try_from(m.account_id).ok() != Some(receipt.account.get()) {
        return Err(disagrees("account_id"));
    }
    if i128::from(m.claimed_at) != receipt.at.unix_timestamp_nanos() {
        return Err(disagrees("claimed_at"));
    }
    Ok(StoredReceipt {
        id: ReceiptId::new(row.id("id", m.id)?),
        registration: row.registration(&m)?,
        receipt,
    })
}

#[cfg(test)]
mod tests {
    use billing_core::money::Money;
    use billing_core::period::Period;
    use billing_core::service::ServiceKind;
    use time::macros::datetime;

    use super::*;

    /// A stored row of `receipt` with id 7, as the database returns it.
    fn stored(receipt: &FiscalReceipt) -> Model {
        let a = to_row(receipt).unwrap();
        Model {
            id: 7,
            payment_id: a.payment_id.unwrap(),
            kind: a.kind.unwrap(),
            refund_request_id: a.refund_request_id.unwrap(),
            account_id: a.account_id.unwrap(),
            document: a.document.unwrap(),
            fiscal_number: None,
            document_number: None,
            fiscal_sign: None,
            registered_at: None,
            claimed_at: a.claimed_at.unwrap(),
        }
    }

    fn item(
        name: &str,
        service: Option<ServiceKind>,
        period: Option<Period>,
        kopecks: i64,
        vat: ItemVat,
        method: PaymentMethodSign,
        subject: PaymentSubject,
    ) -> ReceiptItem {
        let amount = Money::from_kopecks(kopecks);
        ReceiptItem {
            name: name.to_owned(),
            service,
            period,
            amount,
            vat,
            vat_amount: vat.of(amount),
            method,
            subject,
        }
    }

    /// The return receipt of refund 3 of payment 5: electricity at 22 %, penalties «Без НДС»,
    /// an advance at 22/122.
    fn sample() -> FiscalReceipt {
        let feb = Period::new(2026, 2).ok();
        let items = vec![
            item(
                "Электроснабжение, ЛС 7700100001, за 02.2026",
                Some(ServiceKind::Electricity),
                feb,
                80_000,
                ItemVat::Rate(VatRate::TWENTY_TWO),
                PaymentMethodSign::FullPayment,
                PaymentSubject::Service,
            ),
            item(
                "Пени, ЛС 7700100001, за 02.2026",
                Some(ServiceKind::Penalty),
                feb,
                5_000,
                ItemVat::NotSubject,
                PaymentMethodSign::CreditPayment,
                PaymentSubject::NonOperatingIncome,
            ),
            item(
                "Коммунальные услуги, ЛС 7700100001, аванс",
                None,
                None,
                15_000,
                ItemVat::Calculated(VatRate::TWENTY_TWO),
                PaymentMethodSign::Advance,
                PaymentSubject::Payment,
            ),
        ];
        let vat_totals = items
            .iter()
            .map(|i| VatTotal {
                vat: i.vat,
                amount: i.amount,
                vat_amount: i.vat_amount,
            })
            .collect();
        FiscalReceipt {
            kind: ReceiptKind::IncomeReturn,
            payment: PaymentId::new(5),
            refund: Some(RefundRequestId::new(3)),
            account: AccountId::new(1_000_001),
            account_number: AccountNumber::parse("7700100001").unwrap(),
            seller_inn: Inn::parse("7707083893").unwrap(),
            seller_name: OrgName::parse("АО «Энергосбыт»").unwrap(),
            taxation: TaxationSystem::SimplifiedIncomeMinusExpense,
            items,
            total: Money::from_roubles(1_000),
            vat_totals,
            contact: ReceiptContact {
                email: Some("ivanov@example.ru".into()),
                phone: None,
            },
            at: datetime!(2026-03-20 09:15:00.123456789 UTC),
        }
    }

    #[test]
    fn the_document_json_is_pinned() {
        assert_eq!(
            document_json(&sample()).unwrap(),
            concat!(
                r#"{"kind":"income_return","payment":5,"refund":3,"account":1000001,"#,
                r#""account_number":"7700100001","seller_inn":"7707083893","#,
                r#""seller_name":"АО «Энергосбыт»","taxation":"simplified_income_minus_expense","#,
                r#""items":["#,
                r#"{"name":"Электроснабжение, ЛС 7700100001, за 02.2026","service":"electricity","#,
                r#""period":202602,"amount":"800.00","vat":{"kind":"rate","rate":"22"},"#,
                r#""vat_amount":"144.26","method":"full_payment","subject":"service"},"#,
                r#"{"name":"Пени, ЛС 7700100001, за 02.2026","service":"penalty","period":202602,"#,
                r#""amount":"50.00","vat":{"kind":"not_subject"},"vat_amount":"0.00","#,
                r#""method":"credit_payment","subject":"non_operating_income"},"#,
                r#"{"name":"Коммунальные услуги, ЛС 7700100001, аванс","service":null,"#,
                r#""period":null,"amount":"150.00","vat":{"kind":"calculated","rate":"22"},"#,
                r#""vat_amount":"27.05","method":"advance","subject":"payment"}],"#,
                r#""total":"1000.00","vat_totals":["#,
                r#"{"vat":{"kind":"rate","rate":"22"},"amount":"800.00","vat_amount":"144.26"},"#,
                r#"{"vat":{"kind":"not_subject"},"amount":"50.00","vat_amount":"0.00"},"#,
                r#"{"vat":{"kind":"calculated","rate":"22"},"amount":"150.00","#,
                r#""vat_amount":"27.05"}],"#,
                r#""contact":{"email":"ivanov@example.ru","phone":null},"#,
                r#""at":1773998100123456789}"#,
            )
        );
    }

    #[test]
    fn a_receipt_round_trips_with_and_without_a_registration() {
        let receipt = sample();
        let row = stored(&receipt);
        assert_eq!(row.kind, "income_return");
        assert_eq!(row.refund_request_id, 3);
        let back = from_row(row.clone()).unwrap();
        assert_eq!(back.id, ReceiptId::new(7));
        assert_eq!(back.receipt, receipt);
        assert_eq!(back.registration, None);

        let registration = FiscalRegistration {
            fiscal_number: "9960440300000001".into(),
            document_number: 42,
            fiscal_sign: "1234567890".into(),
            registered_at: datetime!(2026-03-20 09:15:01 UTC),
        };
        let registered = Model {
            fiscal_number: Some(registration.fiscal_number.clone()),
            document_number: Some(document_number(&registration).unwrap()),
            fiscal_sign: Some(registration.fiscal_sign.clone()),
            registered_at: Some(to_db_nanos(registration.registered_at).unwrap()),
            ..row
        };
        assert_eq!(
            from_row(registered).unwrap().registration,
            Some(registration)
        );

        let income = FiscalReceipt {
            kind: ReceiptKind::Income,
            refund: None,
            ..sample()
        };
        let row = stored(&income);
        assert_eq!((row.kind.as_str(), row.refund_request_id), ("income", 0));
        assert_eq!(from_row(row).unwrap().receipt, income);
    }

    #[test]
    fn a_damaged_row_is_a_corrupt_row() {
        let row = stored(&sample());
        let problem = |m: Model| from_row(m).unwrap_err().to_string();
        let doc = |from: &str, to: &str| Model {
            document: row.document.replacen(from, to, 1),
            ..row.clone()
        };
        for (damaged, column) in [
            (doc("{", "["), "document"),
            (doc("\"full_payment\"", "\"barter\""), "document"),
            (doc("\"800.00\"", "\"800.001\""), "document.items.amount"),
            (doc("\"22\"", "\"122\""), "document.items.vat"),
            (doc("202602", "202613"), "document.items.period"),
            (doc("\"electricity\"", "\"gas\""), "document.items.service"),
            (doc("7707083893", "7707083890"), "document.seller_inn"),
            (
                Model {
                    payment_id: 6,
                    ..row.clone()
                },
                "payment_id",
            ),
            (
                Model {
                    kind: "income".into(),
                    ..row.clone()
                },
                "kind",
            ),
            (
                Model {
                    refund_request_id: 0,
                    ..row.clone()
                },
                "refund_request_id",
            ),
            (
                Model {
                    account_id: 1,
                    ..row.clone()
                },
                "account_id",
            ),
            (
                Model {
                    claimed_at: 0,
                    ..row.clone()
                },
                "claimed_at",
            ),
            (
                Model {
                    registered_at: Some(0),
                    ..row.clone()
                },
                "registered_at",
            ),
        ] {
            let message = problem(damaged);
            assert!(
                message.starts_with("corrupt row in fiscal_receipts (id 7): ")
                    && message.contains(&format!("{column}: ")),
                "{column}: {message}"
            );
        }
    }

    #[test]
    fn a_refund_id_of_zero_is_not_stored() {
        assert_eq!(refund_column(None), Ok(Some(0)));
        assert_eq!(refund_column(Some(RefundRequestId::new(0))), Ok(None));
        assert_eq!(refund_column(Some(RefundRequestId::new(9))), Ok(Some(9)));
        let zero = FiscalReceipt {
            refund: Some(RefundRequestId::new(0)),
            ..sample()
        };
        assert!(to_row(&zero).is_err());
    }
}
