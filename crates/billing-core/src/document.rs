//! The payment document (ЕПД, единый платёжный документ) of one account for one period, and its
//! ГОСТ Р 56042-2014 QR payload (billing-rules.md §9, §2).
//!
//! [`build_payment_document`] gathers what the billing run, the ledger and the supplier's settings
//! already know into the five sections of the model form (Минстрой order 43/пр of 26.01.2018;
//! ПП 354 п. 69):
//!
//! 1. **payer and supplier** ([`PayerAndSupplier`]): payer, address, ЛС, period, premise area and
//!    persons, the supplier's requisites and bank details;
//! 2. **meter readings** ([`MeterRow`]): per meter and zone the previous and current values and
//!    the volume between them;
//! 3. **calculation** ([`Calculation`]): per service the lines with tariff, unit, volume and
//!    charge; ОДН in its own section; the increasing coefficient and the part of the charge due
//!    to it; recalculations with their reasons; penalties;
//! 4. **reference information** ([`ReferenceInfo`]): the debt or advance at the start of the
//!    period, payments received in it, the due date, the emergency phones;
//! 5. **amount due** ([`AmountDue`]): opening balance − payments + charges, never below zero (an
//!    advance is stated instead), and the QR payload.
//!
//! The module is pure: no IO, no clock. Money is only added — every line is already rounded by
//! the billing run, and every total here is a sum of rounded lines, never rounded again
//! (billing-rules.md §1). The only new rounding is the part of a norm line due to the increasing
//! coefficient, done once per line with [`Money::round`].
//!
//! [`PaymentDocument::to_text`] renders the document as plain Russian text for tests and the
//! CLI; the HTTP layer and a PDF renderer read the struct.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use crate::charge::{ChargeBasis, ChargeLine};
use crate::ids::{AccountId, ReadingId};
use crate::meter::{Meter, Zone};
use crate::model::{Account, AccountNumber, House, Premise};
use crate::money::Money;
use crate::period::{DueDayPolicy, Period};
use crate::qr::{PURPOSE_MAX_CHARS, QrError, QrPayload, TechCode};
use crate::reading::{Reading, ReadingStatus, register_delta, ru_date};
use crate::requisites::{EmergencyPhone, Requisites};
use crate::service::{ServiceKind, Unit};
use crate::tariff::Tier;
use crate::volume::VolumeBasis;

/// One meter of the account with the readings the period was billed from.
#[derive(Clone, Copy, Debug)]
pub struct MeterReadings<'a> {
    /// The meter (it must be on the document's account).
    pub meter: &'a Meter,
    /// The last accepted reading before the period, or the initial reading of a meter installed
    /// in it; `None` if there is none.
    pub previous: Option<&'a Reading>,
    /// The accepted reading of the period; `None` when none was submitted (the period was then
    /// billed by an estimate, which the calculation section explains).
    pub current: Option<&'a Reading>,
}

/// Everything the payment document of one account and period is made from.
///
/// The ledger figures are plain amounts so the document does not depend on how the ledger
/// stores them: `opening_balance` is the balance at the end of the previous period with the
/// ledger's sign convention (positive = debt, negative = advance) and `payments` the money
/// credited to the account during the period, net of refunds.
#[derive(Clone, Copy, Debug)]
pub struct DocumentInput<'a> {
    /// The account (ЛС).
    pub account: &'a Account,
    /// Its premise (must be `account.premise`).
    pub premise: &'a Premise,
    /// The premise's house (must be `premise.house`).
    pub house: &'a House,
    /// The period billed.
    pub period: Period,
    /// The supplier's requisites; `None` when the supplier has not entered them yet.
    pub requisites: Option<&'a Requisites>,
    /// The period's charge lines of the account: own volumes, ОДН, recalculations, penalties.
    pub lines: &'a [ChargeLine],
    /// The meters of the account and their readings, in the order they are printed.
    pub meters: &'a [MeterReadings<'a>],
    /// The balance at the start of the period: positive = debt, negative = advance.
    pub opening_balance: Money,
    /// Payments received in the period, net of refunds.
    pub payments: Money,
    /// The due-day rule (billing-rules.md §2).
    pub due_day: DueDayPolicy,
}

/// What is wrong with a reading given for the meter-readings section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadingProblem {
    /// The reading was taken from another meter.
    #[error("it belongs to another meter")]
    OtherMeter,
    /// The reading was superseded or cancelled.
    #[error("it is not in force")]
    NotInForce,
    /// The current reading belongs to another period, or the previous one to a later period.
    #[error("it belongs to period {0}")]
    OtherPeriod(Period),
    /// The reading has not one value per register of the meter.
    #[error("its zones do not match the meter's registers")]
    ZoneMismatch,
    /// The previous reading was taken after the current one.
    #[error("it was taken after the current reading")]
    OutOfOrder,
}

/// Why a payment document could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The supplier's requisites are not set: the document must show them (ПП 354 п. 69).
    #[error("supplier requisites are missing")]
    RequisitesMissing,
    /// The account's holder is blank: the document must name the payer.
    #[error("account {0:?} has no holder name")]
    PayerNameMissing(AccountId),
    /// The house address is blank: the document must give the payer's address.
    #[error("the house of account {0:?} has no address")]
    AddressMissing(AccountId),
    /// The premise is not the account's, or the house is not the premise's.
    #[error("premise or house given is not the one of account {0:?}")]
    PremiseMismatch(AccountId),
    /// A charge line belongs to another account or another period.
    #[error("charge line {index} belongs to account {account:?}, period {period}")]
    ForeignLine {
        /// The position of the line in the input.
        index: usize,
        /// The line's account.
        account: AccountId,
        /// The line's period.
        period: Period,
    },
    /// A meter is not on the account.
    #[error("meter {serial} is not on the account")]
    ForeignMeter {
        /// The meter's serial number.
        serial: String,
    },
    /// A reading cannot be shown for its meter and the period.
    #[error("reading {reading:?} of meter {serial}: {problem}")]
    Reading {
        /// The meter's serial number.
        serial: String,
        /// The reading.
        reading: ReadingId,
        /// What is wrong with it.
        problem: ReadingProblem,
    },
    /// A total does not fit the decimal range.
    #[error("amounts are out of range")]
    AmountOutOfRange,
    /// The QR payload cannot be built (mandatory block longer than 300 bytes, every separator
    /// occurs in a value, an amount too large …).
    #[error("qr payload: {0}")]
    Qr(#[from] QrError),
}

impl DocumentError {
    /// The message in Russian, for the operator who issues payment documents.
    #[must_use]
    pub fn russian_message(&self) -> String {
        match self {
            DocumentError::RequisitesMissing => {
                "Не заданы реквизиты поставщика: без них платёжный документ не формируется".into()
            }
            DocumentError::PayerNameMissing(_) => {
                "У лицевого счёта не указан плательщик (ФИО владельца)".into()
            }
            DocumentError::AddressMissing(_) => "Не указан адрес дома лицевого счёта".into(),
            DocumentError::PremiseMismatch(_) => {
                "Помещение или дом не соответствуют лицевому счёту".into()
            }
            DocumentError::ForeignLine { index, period, .. } => format!(
                "Строка начисления {} относится к другому лицевому счёту или периоду ({})",
                index + 1,
                period.to_russian()
            ),
            DocumentError::ForeignMeter { serial } => {
                format!("Прибор учёта № {serial} не относится к лицевому счёту")
            }
            DocumentError::Reading {
                serial, problem, ..
            } => {
                let why = match problem {
                    ReadingProblem::OtherMeter => "снято с другого прибора".to_owned(),
                    ReadingProblem::NotInForce => "исправлено или отменено".to_owned(),
                    ReadingProblem::OtherPeriod(p) => {
                        format!("относится к периоду {}", p.to_russian())
                    }
                    ReadingProblem::ZoneMismatch => "не совпадает по числу тарифных зон".to_owned(),
                    ReadingProblem::OutOfOrder => "снято позже текущего".to_owned(),
                };
                format!("Показание прибора учёта № {serial} нельзя показать в документе: {why}")
            }
            DocumentError::AmountOutOfRange => "Суммы документа вне допустимого диапазона".into(),
            DocumentError::Qr(e) => e.russian_message(),
        }
    }
}

/// Section 1: the payer and the supplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayerAndSupplier {
    /// The payer: the account's holder as in the contract.
    pub payer_name: String,
    /// The payer's address: the house address and the flat (or non-residential premise).
    pub address: String,
    /// The personal account (ЛС).
    pub account_number: AccountNumber,
    /// The period billed.
    pub period: Period,
    /// The total area of the premise, m².
    pub area: Decimal,
    /// Persons registered in the premise.
    pub persons: u32,
    /// The supplier's name, ИНН, КПП, address, phones and bank details.
    pub supplier: Requisites,
}

/// A value of a register and the day it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DatedValue {
    /// The register value.
    pub value: Decimal,
    /// The day it was taken.
    pub taken_on: Date,
}

/// Section 2: one register of one meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterRow {
    /// The service the meter measures.
    pub service: ServiceKind,
    /// The meter's serial number.
    pub serial: String,
    /// The register's zone.
    pub zone: Zone,
    /// The previous value, if any.
    pub previous: Option<DatedValue>,
    /// The current value, if one was submitted.
    pub current: Option<DatedValue>,
    /// The transformation coefficient K (1 for a direct meter).
    pub coefficient: Decimal,
    /// (current − previous) mod 10^N × K, when both values are known.
    pub volume: Option<Decimal>,
    /// Whether the register passed zero between the two values.
    pub rollover: bool,
    /// The unit of the volume.
    pub unit: Unit,
}

/// What a calculation line is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LineKind {
    /// The premise's own consumption (by readings, average or norm) or heating.
    Consumption,
    /// Electricity for the common property (ОДН).
    Odn,
    /// A correction of a closed period.
    Recalculation {
        /// The period corrected.
        of_period: Period,
        /// Why (printed on the document).
        reason: String,
    },
    /// Penalties for late payment (ЖК ст. 155 ч. 14).
    Penalty,
}

/// The increasing coefficient applied to a norm line and the part of the charge due to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IncreasingCoefficient {
    /// The coefficient (1.5, 3 …).
    pub coefficient: Decimal,
    /// The line's amount minus the amount without the coefficient,
    /// `amount − round(quantity / coefficient × unit price)`.
    pub amount: Money,
}

/// Section 3: one line of the calculation, from one charge line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentLine {
    /// What the line is.
    pub kind: LineKind,
    /// The zone (`Total` for single-rate, norm, ОДН and money-only lines).
    pub zone: Zone,
    /// The tier (social norm, consumption range, hot-water component).
    pub tier: Tier,
    /// The volume in `unit` (1 for recalculation and penalty lines, which are priced in ₽).
    pub quantity: Decimal,
    /// The unit.
    pub unit: Unit,
    /// The tariff: the price per unit.
    pub unit_price: Decimal,
    /// The charge, rounded once by the billing run.
    pub amount: Money,
    /// The increasing coefficient, where one applied.
    pub increasing: Option<IncreasingCoefficient>,
    /// Why the line is what it is ([`ChargeLine::explain`]).
    pub why: String,
}

impl DocumentLine {
    /// True for lines that carry an amount without a volume (recalculations and penalties).
    #[must_use]
    pub fn is_money_only(&self) -> bool {
        matches!(
            self.kind,
            LineKind::Recalculation { .. } | LineKind::Penalty
        )
    }
}

/// Section 3: one service with its lines and totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceSection {
    /// The service (ОДН and penalties are services of their own).
    pub service: ServiceKind,
    /// The lines, in the order the billing run produced them.
    pub lines: Vec<DocumentLine>,
    /// The sum of the lines other than recalculations.
    pub charged: Money,
    /// The sum of the recalculation lines.
    pub recalculations: Money,
    /// The sum of the parts due to the increasing coefficient (included in `charged`).
    pub increasing: Money,
    /// `charged + recalculations`: the sum of all the lines.
    pub total: Money,
}

/// Section 3: the calculation per service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Calculation {
    /// One section per service that has lines, in [`ServiceKind::ALL`] order.
    pub services: Vec<ServiceSection>,
    /// The sum of the sections' totals: the period's charges.
    pub total: Money,
}

impl Calculation {
    /// The section of a service, if it has lines.
    #[must_use]
    pub fn service(&self, service: ServiceKind) -> Option<&ServiceSection> {
        self.services.iter().find(|s| s.service == service)
    }
}

/// Section 4: reference information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferenceInfo {
    /// The balance at the start of the period: positive = debt, negative = advance.
    pub opening_balance: Money,
    /// Payments received in the period, net of refunds.
    pub payments: Money,
    /// The last day to pay without penalties accruing ([`DueDayPolicy::due_date`]).
    pub due_date: Date,
    /// The emergency phones of the supplier.
    pub emergency_phones: Vec<EmergencyPhone>,
}

impl ReferenceInfo {
    /// The debt at the start of the period (zero if there was an advance).
    #[must_use]
    pub fn opening_debt(&self) -> Money {
        self.opening_balance.positive_part()
    }

    /// The advance at the start of the period (zero if there was a debt).
    #[must_use]
    pub fn opening_advance(&self) -> Money {
        (-self.opening_balance).positive_part()
    }
}

/// Section 5: the amount due and the QR payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmountDue {
    /// The period's charges (= [`Calculation::total`]).
    pub charges: Money,
    /// `opening balance − payments + charges`: positive = owed, negative = advance.
    pub closing_balance: Money,
    /// What to pay: the closing balance if positive, otherwise zero.
    pub due: Money,
    /// The advance carried into the next period: minus the closing balance if negative.
    pub advance: Money,
    /// The ГОСТ Р 56042-2014 payload text (UTF-8) to print as the QR code.
    pub qr_payload: String,
}

/// The payment document (ЕПД) of one account for one period.
///
/// Built only by [`build_payment_document`], so the invariants hold: every section total is the
/// sum of its rounded lines, the calculation total is the sum of the section totals,
/// `due − advance = opening balance − payments + charges` with `due, advance ≥ 0` and at most one
/// of them non-zero, and the QR `Sum` is `due` in kopecks (absent when nothing is due).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentDocument {
    payer: PayerAndSupplier,
    readings: Vec<MeterRow>,
    calculation: Calculation,
    reference: ReferenceInfo,
    amount_due: AmountDue,
}

impl PaymentDocument {
    /// Section 1: payer and supplier.
    #[must_use]
    pub fn payer(&self) -> &PayerAndSupplier {
        &self.payer
    }

    /// Section 2: meter readings, per meter and zone.
    #[must_use]
    pub fn readings(&self) -> &[MeterRow] {
        &self.readings
    }

    /// Section 3: the calculation per service.
    #[must_use]
    pub fn calculation(&self) -> &Calculation {
        &self.calculation
    }

    /// Section 4: reference information.
    #[must_use]
    pub fn reference(&self) -> &ReferenceInfo {
        &self.reference
    }

    /// Section 5: the amount due and the QR payload.
    #[must_use]
    pub fn amount_due(&self) -> &AmountDue {
        &self.amount_due
    }

    /// The document as plain Russian text, section by section (for tests and the CLI).
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        let p = &self.payer;
        let s = &p.supplier;
        let r = &self.reference;
        let a = &self.amount_due;
        writeln!(
            out,
            "ЕДИНЫЙ ПЛАТЁЖНЫЙ ДОКУМЕНТ за {}",
            p.period.to_russian()
        )?;
        writeln!(out)?;
        writeln!(out, "1. Плательщик и исполнитель")?;
        writeln!(out, "Плательщик: {}", p.payer_name)?;
        writeln!(out, "Адрес: {}", p.address)?;
        writeln!(out, "Лицевой счёт: {}", p.account_number)?;
        writeln!(out, "Расчётный период: {}", p.period.to_russian())?;
        writeln!(
            out,
            "Площадь помещения: {} м²; зарегистрировано: {} чел.",
            ru_number(p.area),
            p.persons
        )?;
        write!(
            out,
            "Исполнитель: {}, ИНН {}",
            s.name().as_str(),
            s.inn().as_str()
        )?;
        if let Some(kpp) = s.kpp() {
            write!(out, ", КПП {}", kpp.as_str())?;
        }
        writeln!(out)?;
        writeln!(out, "Адрес исполнителя: {}", s.address().as_str())?;
        if !s.phones().is_empty() {
            let phones: Vec<&str> = s.phones().iter().map(|ph| ph.as_str()).collect();
            writeln!(out, "Телефоны: {}", phones.join(", "))?;
        }
        let b = s.bank();
        writeln!(
            out,
            "Банковские реквизиты: р/с {}, {}, БИК {}, к/с {}",
            b.personal_acc().as_str(),
            b.bank_name().as_str(),
            b.bic().as_str(),
            b.corresp_acc().as_str()
        )?;
        writeln!(out)?;
        writeln!(out, "2. Показания приборов учёта")?;
        if self.readings.is_empty() {
            writeln!(out, "Приборов учёта нет")?;
        }
        for m in &self.readings {
            let value = |v: Option<DatedValue>| {
                v.map_or_else(
                    || "не переданы".to_owned(),
                    |v| format!("{} ({})", ru_number(v.value), ru_date(v.taken_on)),
                )
            };
            write!(
                out,
                "{}, № {}, {}: предыдущие {}, текущие {}",
                m.service.russian_name(),
                m.serial,
                m.zone.russian_name(),
                value(m.previous),
                value(m.current)
            )?;
            if let Some(v) = m.volume {
                write!(out, ", расход {} {}", ru_number(v), m.unit.russian())?;
                if m.coefficient != Decimal::ONE {
                    write!(
                        out,
                        " (с коэффициентом трансформации {})",
                        ru_number(m.coefficient)
                    )?;
                }
                if m.rollover {
                    write!(out, ", с переходом через ноль")?;
                }
            }
            writeln!(out)?;
        }
        writeln!(out)?;
        writeln!(out, "3. Расчёт размера платы")?;
        for sec in &self.calculation.services {
            writeln!(out, "{}", sec.service.russian_name())?;
            for l in &sec.lines {
                match &l.kind {
                    LineKind::Recalculation { of_period, reason } => writeln!(
                        out,
                        "  перерасчёт за {} ({reason}): {}",
                        of_period.to_russian(),
                        l.amount.to_russian()
                    )?,
                    LineKind::Penalty => {
                        writeln!(out, "  начислено пени: {}", l.amount.to_russian())?
                    }
                    LineKind::Consumption | LineKind::Odn => {
                        writeln!(
                            out,
                            "  {}{}: объём {} {}, тариф {} ₽/{}, начислено {}",
                            l.zone.russian_name(),
                            tier_text(l.tier),
                            ru_number(l.quantity),
                            l.unit.russian(),
                            ru_number(l.unit_price),
                            l.unit.russian(),
                            l.amount.to_russian()
                        )?;
                        if let Some(k) = l.increasing {
                            writeln!(
                                out,
                                "    повышающий коэффициент {}: в том числе {}",
                                ru_number(k.coefficient),
                                k.amount.to_russian()
                            )?;
                        }
                    }
                }
            }
            if !sec.recalculations.is_zero() {
                writeln!(
                    out,
                    "  начислено {}, перерасчёты {}",
                    sec.charged.to_russian(),
                    sec.recalculations.to_russian()
                )?;
            }
            writeln!(out, "  Итого по услуге: {}", sec.total.to_russian())?;
        }
        writeln!(
            out,
            "Всего начислено за период: {}",
            self.calculation.total.to_russian()
        )?;
        writeln!(out)?;
        writeln!(out, "4. Справочная информация")?;
        if r.opening_balance.is_negative() {
            writeln!(
                out,
                "Аванс на начало периода: {}",
                r.opening_advance().to_russian()
            )?;
        } else {
            writeln!(
                out,
                "Задолженность на начало периода: {}",
                r.opening_debt().to_russian()
            )?;
        }
        writeln!(out, "Оплачено в периоде: {}", r.payments.to_russian())?;
        writeln!(out, "Оплатить до: {}", ru_date(r.due_date))?;
        for e in &r.emergency_phones {
            writeln!(out, "{}: {}", e.label(), e.phone().as_str())?;
        }
        let lines: Vec<&DocumentLine> = self
            .calculation
            .services
            .iter()
            .flat_map(|s| s.lines.iter())
            .collect();
        if !lines.is_empty() {
            writeln!(out, "Как рассчитано:")?;
            for l in lines {
                writeln!(out, "  – {}", l.why)?;
            }
        }
        writeln!(out)?;
        writeln!(out, "5. Итого к оплате")?;
        writeln!(
            out,
            "Сальдо на начало периода {} − оплачено {} + начислено {} = {}",
            r.opening_balance.to_russian(),
            r.payments.to_russian(),
            a.charges.to_russian(),
            a.closing_balance.to_russian()
        )?;
        if a.advance.is_zero() {
            writeln!(out, "К оплате: {}", a.due.to_russian())?;
        } else {
            writeln!(
                out,
                "К оплате: {} (аванс {} будет учтён в следующем периоде)",
                a.due.to_russian(),
                a.advance.to_russian()
            )?;
        }
        writeln!(out, "QR: {}", a.qr_payload)?;
        Ok(())
    }
}

/// Builds the payment document of an account for a period (billing-rules.md §9).
///
/// Checks that the premise, house, lines, meters and readings all belong to the account and the
/// period, groups the lines by service, adds up the totals (sums of rounded lines), computes
/// the amount due and builds the QR payload. Fails with a [`DocumentError`] that names what is
/// wrong.
///
/// ```
/// use billing_core::charge::{ChargeBasis, ChargeLine};
/// use billing_core::document::{DocumentInput, build_payment_document};
/// use billing_core::ids::*;
/// use billing_core::meter::Zone;
/// use billing_core::model::*;
/// use billing_core::odn::OdnPolicy;
/// use billing_core::period::DueDayPolicy;
/// use billing_core::qr::parse;
/// use billing_core::requisites::*;
/// use billing_core::service::{ServiceKind, Unit};
/// use billing_core::tariff::{ConsumerGroup, Tier};
/// use billing_core::{Money, Period};
/// use rust_decimal::Decimal;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bank = BankDetails::new(
///     PersonalAcc::parse("40702810200000000001")?,
///     BankName::parse("ПАО Сбербанк")?,
///     Bic::parse("044525225")?,
///     CorrespAcc::parse("30101810400000000225")?,
/// )?;
/// let supplier = Requisites::new(
///     OrgName::parse("ПАО «Энергосбыт»")?,
///     Inn::parse("7707083893")?,
///     Some(Kpp::parse("770701001")?),
///     bank,
///     Address::parse("г. Тула, ул. Советская, д. 1")?,
///     vec![],
///     vec![EmergencyPhone::new("Аварийная служба", Phone::parse("112")?)?],
/// )?;
/// let house = House { id: HouseId::new(1), supplier: SupplierId::new(1),
///     address: "г. Тула, ул. Ленина, д. 5".into(), total_area: Decimal::from(3000),
///     common_area: Decimal::from(400),
///     odn: OdnPolicy { billed_by_supplier: true, cap_at_norm: false, norm_per_m2_common: Decimal::ONE },
///     electric_heating: false, heat_meter: false };
/// let premise = Premise { id: PremiseId::new(1), house: house.id, number: "12".into(),
///     area: Decimal::from(50), residential: true, persons: 2, rooms: 2 };
/// let account = Account { id: AccountId::new(1), number: AccountNumber::parse("1001")?,
///     supplier: SupplierId::new(1), premise: premise.id, holder: "Иванов Иван Иванович".into(),
///     group: ConsumerGroup::Population, services: vec![] };
/// let period = Period::new(2026, 3)?;
/// let line = ChargeLine { account: account.id, period, service: ServiceKind::Electricity,
///     zone: Zone::Total, tier: Tier::Base, quantity: Decimal::ONE, unit: Unit::Rouble,
///     unit_price: Decimal::new(50000, 2), amount: Money::from_roubles(500), tariff: None,
///     days: None, basis: ChargeBasis::Recalculation { of_period: period.prev(),
///     reason: "корректировка показаний".into() } };
/// let doc = build_payment_document(&DocumentInput {
///     account: &account, premise: &premise, house: &house, period,
///     requisites: Some(&supplier), lines: std::slice::from_ref(&line), meters: &[],
///     opening_balance: Money::from_roubles(1000), payments: Money::from_roubles(700),
///     due_day: DueDayPolicy::default(),
/// })?;
/// // 1000 debt − 700 paid + 500 charged = 800 due, by 15.04.2026.
/// assert_eq!(doc.amount_due().due, Money::from_roubles(800));
/// let qr = parse(&doc.amount_due().qr_payload)?;
/// assert_eq!(qr.get("Sum"), Some("80000"));
/// assert_eq!(qr.get("PaymTerm"), Some("15.04.2026"));
/// assert_eq!(qr.get("LastName"), Some("Иванов"));
/// assert!(doc.to_text().contains("К оплате: 800,00"));
/// # Ok(())
/// # }
/// ```
pub fn build_payment_document(input: &DocumentInput<'_>) -> Result<PaymentDocument, DocumentError> {
    let account = input.account;
    let requisites = input.requisites.ok_or(DocumentError::RequisitesMissing)?;
    if input.premise.id != account.premise || input.house.id != input.premise.house {
        return Err(DocumentError::PremiseMismatch(account.id));
    }
    let payer_name = account.holder.trim();
    if payer_name.is_empty() {
        return Err(DocumentError::PayerNameMissing(account.id));
    }
    let address = payer_address(input.house, input.premise)
        .ok_or(DocumentError::AddressMissing(account.id))?;
    if let Some((index, l)) = input
        .lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.account != account.id || l.period != input.period)
    {
        return Err(DocumentError::ForeignLine {
            index,
            account: l.account,
            period: l.period,
        });
    }

    let readings = meter_rows(account.id, input.period, input.meters)?;
    let calculation = calculation(input.lines)?;
    let due_date = input.due_day.due_date(input.period);

    let closing = input
        .opening_balance
        .amount()
        .checked_sub(input.payments.amount())
        .and_then(|d| d.checked_add(calculation.total.amount()))
        .ok_or(DocumentError::AmountOutOfRange)?;
    let closing = Money::round(closing); // exact: a sum of whole kopecks
    let due = closing.positive_part();
    let advance = (-closing).positive_part();

    let services: Vec<ServiceKind> = calculation.services.iter().map(|s| s.service).collect();
    let mut qr = QrPayload::for_supplier(requisites)?
        .purpose(&purpose(&services, input.period, PURPOSE_MAX_CHARS))?
        .pers_acc(account.number.as_str())?
        .payer_address(&address)?
        .paym_period(input.period)
        .paym_term(due_date)?
        .tech_code(TechCode::HOUSING_AND_UTILITIES);
    if let Some(name) = split_person_name(payer_name) {
        qr = qr.last_name(&name.last)?;
        if let Some(first) = &name.first {
            qr = qr.first_name(first)?;
        }
        if let Some(middle) = &name.middle {
            qr = qr.middle_name(middle)?;
        }
    }
    if due.is_positive() {
        qr = qr.sum(due)?;
    }

    Ok(PaymentDocument {
        payer: PayerAndSupplier {
            payer_name: payer_name.to_owned(),
            address,
            account_number: account.number.clone(),
            period: input.period,
            area: input.premise.area,
            persons: input.premise.persons,
            supplier: requisites.clone(),
        },
        readings,
        reference: ReferenceInfo {
            opening_balance: input.opening_balance,
            payments: input.payments,
            due_date,
            emergency_phones: requisites.emergency_phones().to_vec(),
        },
        amount_due: AmountDue {
            charges: calculation.total,
            closing_balance: closing,
            due,
            advance,
            qr_payload: qr.encode(),
        },
        calculation,
    })
}

/// The payer's address: the house address, then the flat (or the non-residential premise).
fn payer_address(house: &House, premise: &Premise) -> Option<String> {
    let street = house.address.trim();
    if street.is_empty() {
        return None;
    }
    let number = premise.number.trim();
    Some(match (number.is_empty(), premise.residential) {
        (true, _) => street.to_owned(),
        (false, true) => format!("{street}, кв. {number}"),
        (false, false) => format!("{street}, пом. {number}"),
    })
}

fn meter_rows(
    account: AccountId,
    period: Period,
    meters: &[MeterReadings<'_>],
) -> Result<Vec<MeterRow>, DocumentError> {
    let mut rows = Vec::with_capacity(meters.len() * 2);
    for m in meters {
        let meter = m.meter;
        if meter.account != Some(account) {
            return Err(DocumentError::ForeignMeter {
                serial: meter.serial.clone(),
            });
        }
        let check = |r: &Reading, current: bool| -> Result<(), DocumentError> {
            let problem = if r.meter != meter.id {
                Some(ReadingProblem::OtherMeter)
            } else if r.status != ReadingStatus::Accepted {
                Some(ReadingProblem::NotInForce)
            } else if (current && r.period != period) || (!current && r.period > period) {
                Some(ReadingProblem::OtherPeriod(r.period))
            } else if r.values.scheme() != meter.registers.scheme {
                Some(ReadingProblem::ZoneMismatch)
            } else {
                None
            };
            match problem {
                Some(problem) => Err(DocumentError::Reading {
                    serial: meter.serial.clone(),
                    reading: r.id,
                    problem,
                }),
                None => Ok(()),
            }
        };
        if let Some(r) = m.previous {
            check(r, false)?;
        }
        if let Some(r) = m.current {
            check(r, true)?;
        }
        if let (Some(prev), Some(cur)) = (m.previous, m.current)
            && prev.taken_on > cur.taken_on
        {
            return Err(DocumentError::Reading {
                serial: meter.serial.clone(),
                reading: prev.id,
                problem: ReadingProblem::OutOfOrder,
            });
        }
        let spec = &meter.registers;
        for (i, zone) in spec.scheme.zones().iter().enumerate() {
            let at = |r: Option<&Reading>| {
                r.and_then(|r| {
                    r.values.values().get(i).map(|v| DatedValue {
                        value: *v,
                        taken_on: r.taken_on,
                    })
                })
            };
            let previous = at(m.previous);
            let current = at(m.current);
            let (volume, rollover) = match (previous, current) {
                (Some(p), Some(c)) => {
                    let d = register_delta(p.value, c.value, spec);
                    let v = d
                        .delta
                        .checked_mul(spec.coefficient)
                        .ok_or(DocumentError::AmountOutOfRange)?;
                    (Some(v), d.rollover)
                }
                _ => (None, false),
            };
            rows.push(MeterRow {
                service: meter.service,
                serial: meter.serial.clone(),
                zone: *zone,
                previous,
                current,
                coefficient: spec.coefficient,
                volume,
                rollover,
                unit: meter.service.unit(),
            });
        }
    }
    Ok(rows)
}

fn calculation(lines: &[ChargeLine]) -> Result<Calculation, DocumentError> {
    let add = |a: Money, b: Money| a.checked_add(b).ok_or(DocumentError::AmountOutOfRange);
    let mut services = Vec::new();
    let mut total = Money::ZERO;
    for service in ServiceKind::ALL {
        let mut section = ServiceSection {
            service,
            lines: Vec::new(),
            charged: Money::ZERO,
            recalculations: Money::ZERO,
            increasing: Money::ZERO,
            total: Money::ZERO,
        };
        for l in lines.iter().filter(|l| l.service == service) {
            let line = document_line(l)?;
            if matches!(line.kind, LineKind::Recalculation { .. }) {
                section.recalculations = add(section.recalculations, line.amount)?;
            } else {
                section.charged = add(section.charged, line.amount)?;
            }
            if let Some(k) = line.increasing {
                section.increasing = add(section.increasing, k.amount)?;
            }
            section.total = add(section.total, line.amount)?;
            section.lines.push(line);
        }
        if !section.lines.is_empty() {
            total = add(total, section.total)?;
            services.push(section);
        }
    }
    Ok(Calculation { services, total })
}

fn document_line(l: &ChargeLine) -> Result<DocumentLine, DocumentError> {
    let kind = match &l.basis {
        ChargeBasis::Recalculation { of_period, reason } => LineKind::Recalculation {
            of_period: *of_period,
            reason: reason.clone(),
        },
        ChargeBasis::Penalty { .. } => LineKind::Penalty,
        _ if l.service == ServiceKind::Penalty => LineKind::Penalty,
        ChargeBasis::Odn { .. } => LineKind::Odn,
        _ if l.service == ServiceKind::ElectricityCommon => LineKind::Odn,
        _ => LineKind::Consumption,
    };
    let increasing = match &l.basis {
        ChargeBasis::Volume(VolumeBasis::Norm {
            coefficient: Some(k),
            ..
        }) if k.is_sign_positive() && !k.is_zero() && *k != Decimal::ONE => {
            // The amount without the coefficient, rounded once; the part due to the coefficient is
            // what is left of the line's amount, so the two add up to the line exactly.
            let without = l
                .quantity
                .checked_div(*k)
                .and_then(|q| q.checked_mul(l.unit_price))
                .ok_or(DocumentError::AmountOutOfRange)?;
            let part = l
                .amount
                .amount()
                .checked_sub(Money::round(without).amount())
                .ok_or(DocumentError::AmountOutOfRange)?;
            Some(IncreasingCoefficient {
                coefficient: *k,
                amount: Money::round(part),
            })
        }
        _ => None,
    };
    Ok(DocumentLine {
        kind,
        zone: l.zone,
        tier: l.tier,
        quantity: l.quantity,
        unit: l.unit,
        unit_price: l.unit_price,
        amount: l.amount,
        increasing,
        why: l.explain(),
    })
}

/// `Purpose`: «Оплата за <services> за <period>», or «Оплата за коммунальные услуги за <period>»
/// when the list of services would not fit `max_chars`.
fn purpose(services: &[ServiceKind], period: Period, max_chars: usize) -> String {
    let general = format!("Оплата за коммунальные услуги за {}", period.to_russian());
    if services.is_empty() {
        return general;
    }
    let names: Vec<String> = services
        .iter()
        .map(|s| lowercase_first(s.russian_name()))
        .collect();
    let full = format!("Оплата за {} за {}", names.join(", "), period.to_russian());
    if full.chars().count() <= max_chars {
        full
    } else {
        general
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A person's name split for the QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PersonName {
    last: String,
    first: Option<String>,
    middle: Option<String>,
}

/// Splits «Фамилия Имя Отчество» (or «Фамилия И. О.», «Фамилия И.О.»): the first word is the last
/// name, the second the first name, the rest the patronymic («Гусейн оглы»). `None` when the
/// text does not look like a person's name (digits, quotes: an organisation), so the QR code gets
/// no name keys rather than wrong ones.
fn split_person_name(full: &str) -> Option<PersonName> {
    let name_char = |c: char| c.is_alphabetic() || matches!(c, '-' | '.' | '\'' | '’');
    let mut parts: Vec<String> = Vec::new();
    for token in full.split_whitespace() {
        if !token.chars().all(name_char) || !token.chars().any(char::is_alphabetic) {
            return None;
        }
        let pieces: Vec<&str> = token.split_terminator('.').collect();
        let initials = pieces.len() > 1
            && token.ends_with('.')
            && pieces.iter().all(|p| p.chars().count() == 1);
        if initials {
            parts.extend(pieces.iter().map(|p| format!("{p}.")));
        } else {
            parts.push(token.to_owned());
        }
    }
    let mut it = parts.into_iter();
    let last = it.next()?;
    let first = it.next();
    let rest: Vec<String> = it.collect();
    let middle = (!rest.is_empty()).then(|| rest.join(" "));
    Some(PersonName {
        last,
        first,
        middle,
    })
}

fn tier_text(tier: Tier) -> String {
    match tier {
        Tier::Base => String::new(),
        Tier::WithinNorm => ", в пределах социальной нормы".into(),
        Tier::AboveNorm => ", сверх социальной нормы".into(),
        Tier::Range(n) => format!(", диапазон {n}"),
        Tier::WaterComponent => ", компонент на холодную воду".into(),
        Tier::HeatComponent => ", компонент на тепловую энергию".into(),
    }
}

/// A decimal as printed in Russian: trailing zeros dropped, a comma for the point, `−` for minus.
fn ru_number(d: Decimal) -> String {
    if d.is_zero() {
        return "0".into();
    }
    let s = d.normalize().to_string().replace('.', ",");
    match s.strip_prefix('-') {
        Some(body) => format!("−{body}"),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{HouseId, MeterId, PremiseId, SupplierId, TariffId};
    use crate::meter::{RegisterSpec, ZoneScheme, ZoneValues};
    use crate::odn::{OdnBasis, OdnPolicy};
    use crate::qr::{QrError, parse};
    use crate::reading::ReadingSource;
    use crate::tariff::ConsumerGroup;
    use crate::volume::EstimateReason;
    use rust_decimal_macros::dec;
    use time::macros::{date, datetime};

    const ACCOUNT: AccountId = AccountId::new(7);

    fn march() -> Period {
        Period::new(2026, 3).unwrap()
    }

    fn requisites_named(name: &str) -> Requisites {
        crate::requisites::sample(name)
    }

    fn requisites() -> Requisites {
        requisites_named("ПАО «Энергосбыт»")
    }

    fn house() -> House {
        House {
            id: HouseId::new(3),
            supplier: SupplierId::new(1),
            address: "г. Тула, ул. Ленина, д. 5".into(),
            total_area: dec!(3000),
            common_area: dec!(400),
            odn: OdnPolicy {
                billed_by_supplier: true,
                cap_at_norm: false,
                norm_per_m2_common: dec!(1.2),
            },
            electric_heating: false,
            heat_meter: false,
        }
    }

    fn premise() -> Premise {
        Premise {
            id: PremiseId::new(5),
            house: HouseId::new(3),
            number: "12".into(),
            area: dec!(52.4),
            residential: true,
            persons: 2,
            rooms: 2,
        }
    }

    fn account() -> Account {
        Account {
            id: ACCOUNT,
            number: AccountNumber::parse("6100123456").unwrap(),
            supplier: SupplierId::new(1),
            premise: PremiseId::new(5),
            holder: "Иванова Мария Петровна".into(),
            group: ConsumerGroup::Population,
            services: vec![],
        }
    }

    fn two_zone_meter() -> Meter {
        Meter {
            id: MeterId::new(11),
            account: Some(ACCOUNT),
            service: ServiceKind::Electricity,
            serial: "0123456".into(),
            registers: RegisterSpec {
                scheme: ZoneScheme::TwoZone,
                digits: 4,
                decimals: 0,
                coefficient: Decimal::ONE,
            },
            installed_on: date!(2020 - 01 - 01),
            commissioned_on: Some(date!(2020 - 01 - 01)),
            verification_due: None,
            failed_on: None,
            removed_on: None,
            automatic: false,
        }
    }

    fn reading(id: u64, period: Period, values: [Decimal; 2], taken_on: Date) -> Reading {
        Reading {
            id: ReadingId::new(id),
            meter: MeterId::new(11),
            period,
            values: ZoneValues::new(ZoneScheme::TwoZone, &values).unwrap(),
            taken_on,
            submitted_at: datetime!(2026 - 03 - 20 10:00 UTC),
            source: ReadingSource::Subscriber,
            status: ReadingStatus::Accepted,
            supersedes: None,
        }
    }

    fn previous() -> Reading {
        // The day register rolls over: 9950 → 0100 is 150 kWh on a 4-digit register.
        reading(
            1,
            march().prev(),
            [dec!(9950), dec!(500)],
            date!(2026 - 02 - 20),
        )
    }

    fn current() -> Reading {
        reading(2, march(), [dec!(100), dec!(560)], date!(2026 - 03 - 20))
    }

    fn line(
        service: ServiceKind,
        zone: Zone,
        quantity: Decimal,
        unit_price: Decimal,
        basis: ChargeBasis,
    ) -> ChargeLine {
        let unit = if matches!(
            basis,
            ChargeBasis::Recalculation { .. } | ChargeBasis::Penalty { .. }
        ) {
            Unit::Rouble
        } else {
            service.unit()
        };
        ChargeLine {
            account: ACCOUNT,
            period: march(),
            service,
            zone,
            tier: Tier::Base,
            quantity,
            unit,
            unit_price,
            amount: Money::round(quantity * unit_price),
            tariff: Some(TariffId::new(1)),
            days: None,
            basis,
        }
    }

    fn readings_basis() -> ChargeBasis {
        ChargeBasis::Volume(VolumeBasis::Readings {
            meter: MeterId::new(11),
            opening: ZoneValues::new(ZoneScheme::TwoZone, &[dec!(9950), dec!(500)]).unwrap(),
            closing: ZoneValues::new(ZoneScheme::TwoZone, &[dec!(100), dec!(560)]).unwrap(),
            coefficient: Decimal::ONE,
            rollover: true,
            replacement: false,
        })
    }

    /// A two-zone meter, ОДН, cold water by norm with the increasing coefficient 3, a
    /// recalculation of February and penalties.
    fn full_lines() -> Vec<ChargeLine> {
        let odn = OdnBasis {
            house_volume: Some(dec!(52000)),
            flats_volume: dec!(45000),
            non_residential_volume: dec!(3000),
            heat_production_volume: Decimal::ZERO,
            raw_volume: dec!(4000),
            norm_volume: dec!(480),
            distributed_volume: dec!(4000),
            negative_remainder: Decimal::ZERO,
            total_area: dec!(3000),
        };
        vec![
            line(
                ServiceKind::Electricity,
                Zone::Day,
                dec!(150),
                dec!(6.85),
                readings_basis(),
            ),
            line(
                ServiceKind::Electricity,
                Zone::Night,
                dec!(60),
                dec!(3.42),
                readings_basis(),
            ),
            line(
                ServiceKind::ElectricityCommon,
                Zone::Total,
                dec!(69.867),
                dec!(6.85),
                ChargeBasis::Odn {
                    area: dec!(52.4),
                    house: odn,
                },
            ),
            line(
                ServiceKind::ColdWater,
                Zone::Total,
                dec!(29.4),
                dec!(45.67),
                ChargeBasis::Volume(VolumeBasis::Norm {
                    norm: dec!(4.9),
                    factor: dec!(2),
                    coefficient: Some(dec!(3)),
                    reason: EstimateReason::MeterFailed,
                }),
            ),
            ChargeLine {
                tariff: None,
                ..line(
                    ServiceKind::Electricity,
                    Zone::Total,
                    Decimal::ONE,
                    dec!(-120.00),
                    ChargeBasis::Recalculation {
                        of_period: march().prev(),
                        reason: "исправлены показания февраля".into(),
                    },
                )
            },
            ChargeLine {
                tariff: None,
                ..line(
                    ServiceKind::Penalty,
                    Zone::Total,
                    Decimal::ONE,
                    dec!(15.37),
                    ChargeBasis::Penalty {
                        lines: vec![],
                        already_charged: Money::ZERO,
                    },
                )
            },
        ]
    }

    struct Fixture {
        account: Account,
        premise: Premise,
        house: House,
        requisites: Requisites,
        meter: Meter,
        previous: Reading,
        current: Reading,
        lines: Vec<ChargeLine>,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                account: account(),
                premise: premise(),
                house: house(),
                requisites: requisites(),
                meter: two_zone_meter(),
                previous: previous(),
                current: current(),
                lines: full_lines(),
            }
        }

        fn build(&self, opening: Money, payments: Money) -> Result<PaymentDocument, DocumentError> {
            let meters = [MeterReadings {
                meter: &self.meter,
                previous: Some(&self.previous),
                current: Some(&self.current),
            }];
            build_payment_document(&DocumentInput {
                account: &self.account,
                premise: &self.premise,
                house: &self.house,
                period: march(),
                requisites: Some(&self.requisites),
                lines: &self.lines,
                meters: &meters,
                opening_balance: opening,
                payments,
                due_day: DueDayPolicy::default(),
            })
        }
    }

    fn rub(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn full_document_has_the_five_sections_and_adds_up() {
        let doc = Fixture::new()
            .build(rub("2500.00"), rub("2000.00"))
            .unwrap();

        // 1. Payer and supplier.
        let p = doc.payer();
        assert_eq!(p.payer_name, "Иванова Мария Петровна");
        assert_eq!(p.address, "г. Тула, ул. Ленина, д. 5, кв. 12");
        assert_eq!(p.account_number.as_str(), "6100123456");
        assert_eq!(p.period, march());
        assert_eq!(p.supplier.inn().as_str(), "7707083893");

        // 2. Readings: one row per zone; the day register rolled over 9950 → 0100.
        let rows = doc.readings();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].zone, rows[0].volume, rows[0].rollover),
            (Zone::Day, Some(dec!(150)), true)
        );
        assert_eq!(
            (rows[1].zone, rows[1].volume, rows[1].rollover),
            (Zone::Night, Some(dec!(60)), false)
        );
        assert_eq!(rows[0].previous.map(|v| v.value), Some(dec!(9950)));
        assert_eq!(
            rows[1].current.map(|v| v.taken_on),
            Some(date!(2026 - 03 - 20))
        );

        // 3. Calculation, per service in ServiceKind::ALL order.
        let c = doc.calculation();
        let order: Vec<ServiceKind> = c.services.iter().map(|s| s.service).collect();
        assert_eq!(
            order,
            [
                ServiceKind::Electricity,
                ServiceKind::ElectricityCommon,
                ServiceKind::ColdWater,
                ServiceKind::Penalty
            ]
        );
        let el = c.service(ServiceKind::Electricity).unwrap();
        // 150 × 6.85 = 1027.50; 60 × 3.42 = 205.20; recalculation −120.00.
        assert_eq!(
            (el.charged, el.recalculations, el.total),
            (rub("1232.70"), rub("-120.00"), rub("1112.70"))
        );
        assert!(
            matches!(&el.lines[2].kind, LineKind::Recalculation { of_period, reason }
            if *of_period == march().prev() && reason == "исправлены показания февраля")
        );
        let odn = c.service(ServiceKind::ElectricityCommon).unwrap();
        // 69.867 × 6.85 = 478.58895 → 478.59, shown separately as ОДН.
        assert_eq!(odn.total, rub("478.59"));
        assert_eq!(odn.lines[0].kind, LineKind::Odn);
        let water = c.service(ServiceKind::ColdWater).unwrap();
        // 29.4 m³ × 45.67 = 1342.698 → 1342.70; without the coefficient 9.8 × 45.67 = 447.566
        // → 447.57; the coefficient's part is 895.13.
        assert_eq!(water.total, rub("1342.70"));
        assert_eq!(
            water.lines[0].increasing,
            Some(IncreasingCoefficient {
                coefficient: dec!(3),
                amount: rub("895.13")
            })
        );
        assert_eq!(water.increasing, rub("895.13"));
        let pen = c.service(ServiceKind::Penalty).unwrap();
        assert_eq!(
            (pen.total, &pen.lines[0].kind),
            (rub("15.37"), &LineKind::Penalty)
        );
        assert_eq!(c.total, rub("2949.36"));
        assert_eq!(c.total, c.services.iter().map(|s| s.total).sum::<Money>());
        assert!(el.lines[0].why.contains("по показаниям"));
        assert!(water.lines[0].why.contains("повышающий коэффициент 3"));

        // 4. Reference information.
        let r = doc.reference();
        assert_eq!(
            (r.opening_debt(), r.opening_advance()),
            (rub("2500.00"), Money::ZERO)
        );
        assert_eq!(r.payments, rub("2000.00"));
        assert_eq!(r.due_date, date!(2026 - 04 - 15)); // the 15th from 01.03.2026
        assert_eq!(r.emergency_phones.len(), 2);

        // 5. Amount due: 2500.00 − 2000.00 + 2949.36.
        let a = doc.amount_due();
        assert_eq!(
            (a.charges, a.closing_balance, a.due, a.advance),
            (rub("2949.36"), rub("3449.36"), rub("3449.36"), Money::ZERO)
        );
    }

    #[test]
    fn qr_payload_parses_back_with_the_amount_due() {
        let doc = Fixture::new()
            .build(rub("2500.00"), rub("2000.00"))
            .unwrap();
        let qr = parse(&doc.amount_due().qr_payload).unwrap();
        assert_eq!(qr.sum().unwrap(), Some(doc.amount_due().due));
        assert_eq!(qr.get("Sum"), Some("344936"));
        assert_eq!(qr.name(), "ПАО «Энергосбыт»");
        assert_eq!(qr.personal_acc(), "40702810200000000001");
        assert_eq!(qr.get("PayeeINN"), Some("7707083893"));
        assert_eq!(qr.get("KPP"), Some("770701001"));
        assert_eq!(qr.get("PersAcc"), Some("6100123456"));
        assert_eq!(qr.get("PaymPeriod"), Some("032026"));
        assert_eq!(qr.get("PaymTerm"), Some("15.04.2026"));
        assert_eq!(qr.get("LastName"), Some("Иванова"));
        assert_eq!(qr.get("FirstName"), Some("Мария"));
        assert_eq!(qr.get("MiddleName"), Some("Петровна"));
        assert_eq!(
            qr.get("PayerAddress"),
            Some("г. Тула, ул. Ленина, д. 5, кв. 12")
        );
        assert_eq!(qr.get("TechCode"), Some("02"));
        assert_eq!(
            qr.get("Purpose"),
            Some(
                "Оплата за электроснабжение, электроснабжение на СОИ (ОДН), холодное водоснабжение, пени за март 2026"
            )
        );
    }

    #[test]
    fn text_rendition_shows_every_section() {
        let text = Fixture::new()
            .build(rub("2500.00"), rub("2000.00"))
            .unwrap()
            .to_text();
        for needle in [
            "ЕДИНЫЙ ПЛАТЁЖНЫЙ ДОКУМЕНТ за март 2026",
            "1. Плательщик и исполнитель",
            "Лицевой счёт: 6100123456",
            "БИК 044525225",
            "2. Показания приборов учёта",
            "№ 0123456, день (T1): предыдущие 9950 (20.02.2026), текущие 100 (20.03.2026), расход 150 кВт·ч, с переходом через ноль",
            "3. Расчёт размера платы",
            "Электроснабжение на СОИ (ОДН)",
            "круглосуточно: объём 29,4 м³, тариф 45,67 ₽/м³, начислено 1\u{a0}342,70\u{a0}₽",
            "повышающий коэффициент 3: в том числе 895,13\u{a0}₽",
            "перерасчёт за февраль 2026 (исправлены показания февраля): −120,00\u{a0}₽",
            "начислено пени: 15,37\u{a0}₽",
            "Всего начислено за период: 2\u{a0}949,36\u{a0}₽",
            "4. Справочная информация",
            "Задолженность на начало периода: 2\u{a0}500,00\u{a0}₽",
            "Оплачено в периоде: 2\u{a0}000,00\u{a0}₽",
            "Оплатить до: 15.04.2026",
            "Единая служба спасения: 112",
            "Как рассчитано:",
            "5. Итого к оплате",
            "К оплате: 3\u{a0}449,36\u{a0}₽",
            "QR: ST00012|Name=ПАО «Энергосбыт»",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn an_advance_leaves_nothing_due_and_no_sum_in_the_qr() {
        // An advance of 500.00 at the start, 4000.00 paid, 2949.36 charged:
        // −500.00 − 4000.00 + 2949.36 = −1550.64, an advance of 1550.64 and nothing due.
        let f = Fixture::new();
        let doc = f.build(rub("-500.00"), rub("4000.00")).unwrap();
        let a = doc.amount_due();
        assert_eq!(
            (a.closing_balance, a.due, a.advance),
            (rub("-1550.64"), Money::ZERO, rub("1550.64"))
        );
        assert_eq!(doc.reference().opening_advance(), rub("500.00"));
        let qr = parse(&a.qr_payload).unwrap();
        assert_eq!(qr.get("Sum"), None);
        assert_eq!(qr.sum().unwrap(), None);
        assert_eq!(qr.get("PersAcc"), Some("6100123456"));
        let text = doc.to_text();
        assert!(
            text.contains("К оплате: 0,00\u{a0}₽ (аванс 1\u{a0}550,64\u{a0}₽"),
            "{text}"
        );
        assert!(
            text.contains("Аванс на начало периода: 500,00\u{a0}₽"),
            "{text}"
        );

        let due = f.build(rub("-500.00"), rub("1000.00")).unwrap();
        assert_eq!(
            (due.amount_due().due, due.amount_due().advance),
            (rub("1449.36"), Money::ZERO)
        );
        // Exactly settled: nothing due, no advance, no Sum.
        let settled = f.build(rub("-500.00"), rub("2449.36")).unwrap();
        assert_eq!(
            (settled.amount_due().due, settled.amount_due().advance),
            (Money::ZERO, Money::ZERO)
        );
        assert_eq!(
            parse(&settled.amount_due().qr_payload).unwrap().get("Sum"),
            None
        );
    }

    #[test]
    fn a_document_without_lines_or_meters_still_has_a_debt_to_pay() {
        let mut f = Fixture::new();
        f.lines.clear();
        let doc = build_payment_document(&DocumentInput {
            account: &f.account,
            premise: &f.premise,
            house: &f.house,
            period: march(),
            requisites: Some(&f.requisites),
            lines: &f.lines,
            meters: &[],
            opening_balance: rub("100.00"),
            payments: Money::ZERO,
            due_day: DueDayPolicy::default(),
        })
        .unwrap();
        assert!(doc.calculation().services.is_empty());
        assert_eq!(doc.amount_due().due, rub("100.00"));
        let qr = parse(&doc.amount_due().qr_payload).unwrap();
        assert_eq!(
            qr.get("Purpose"),
            Some("Оплата за коммунальные услуги за март 2026")
        );
        assert!(doc.to_text().contains("Приборов учёта нет"));
    }

    #[test]
    fn missing_requisites_are_refused() {
        let f = Fixture::new();
        let r = build_payment_document(&DocumentInput {
            account: &f.account,
            premise: &f.premise,
            house: &f.house,
            period: march(),
            requisites: None,
            lines: &f.lines,
            meters: &[],
            opening_balance: Money::ZERO,
            payments: Money::ZERO,
            due_day: DueDayPolicy::default(),
        });
        assert_eq!(r, Err(DocumentError::RequisitesMissing));
    }

    #[test]
    fn lines_of_another_account_or_period_are_refused() {
        let mut f = Fixture::new();
        f.lines[3].account = AccountId::new(8);
        assert_eq!(
            f.build(Money::ZERO, Money::ZERO),
            Err(DocumentError::ForeignLine {
                index: 3,
                account: AccountId::new(8),
                period: march()
            })
        );
        let mut f = Fixture::new();
        f.lines[5].period = march().prev();
        assert_eq!(
            f.build(Money::ZERO, Money::ZERO),
            Err(DocumentError::ForeignLine {
                index: 5,
                account: ACCOUNT,
                period: march().prev()
            })
        );
    }

    #[test]
    fn foreign_premises_meters_and_readings_are_refused() {
        let mut f = Fixture::new();
        f.premise.id = PremiseId::new(6);
        assert_eq!(
            f.build(Money::ZERO, Money::ZERO),
            Err(DocumentError::PremiseMismatch(ACCOUNT))
        );
        let mut f = Fixture::new();
        f.premise.house = HouseId::new(4);
        assert_eq!(
            f.build(Money::ZERO, Money::ZERO),
            Err(DocumentError::PremiseMismatch(ACCOUNT))
        );

        let mut f = Fixture::new();
        f.meter.account = Some(AccountId::new(8));
        assert_eq!(
            f.build(Money::ZERO, Money::ZERO),
            Err(DocumentError::ForeignMeter {
                serial: "0123456".into()
            })
        );

        let reading_err = |f: &Fixture, id: u64, problem| {
            assert_eq!(
                f.build(Money::ZERO, Money::ZERO),
                Err(DocumentError::Reading {
                    serial: "0123456".into(),
                    reading: ReadingId::new(id),
                    problem
                })
            );
        };
        let mut f = Fixture::new();
        f.current.period = march().next();
        reading_err(&f, 2, ReadingProblem::OtherPeriod(march().next()));
        let mut f = Fixture::new();
        f.previous.period = march().next();
        reading_err(&f, 1, ReadingProblem::OtherPeriod(march().next()));
        let mut f = Fixture::new();
        f.current.meter = MeterId::new(12);
        reading_err(&f, 2, ReadingProblem::OtherMeter);
        let mut f = Fixture::new();
        f.previous.status = ReadingStatus::Superseded;
        reading_err(&f, 1, ReadingProblem::NotInForce);
        let mut f = Fixture::new();
        f.current.values = ZoneValues::single(dec!(100));
        reading_err(&f, 2, ReadingProblem::ZoneMismatch);
        let mut f = Fixture::new();
        f.previous.taken_on = date!(2026 - 03 - 21);
        f.previous.period = march();
        reading_err(&f, 1, ReadingProblem::OutOfOrder);
    }

    #[test]
    fn a_blank_payer_or_address_is_refused() {
        let mut f = Fixture::new();
        f.account.holder = "  ".into();
        assert_eq!(
            f.build(Money::ZERO, Money::ZERO),
            Err(DocumentError::PayerNameMissing(ACCOUNT))
        );
        let mut f = Fixture::new();
        f.house.address = String::new();
        assert_eq!(
            f.build(Money::ZERO, Money::ZERO),
            Err(DocumentError::AddressMissing(ACCOUNT))
        );
    }

    #[test]
    fn qr_problems_become_document_errors() {
        // 160 Cyrillic characters take 320 bytes: the mandatory block cannot fit 300.
        let mut f = Fixture::new();
        f.requisites = requisites_named(&"Я".repeat(160));
        let err = f.build(rub("1.00"), Money::ZERO).unwrap_err();
        assert!(
            matches!(
                err,
                DocumentError::Qr(QrError::MandatoryBlockTooLong { .. })
            ),
            "{err:?}"
        );
        assert!(err.russian_message().contains("300"));

        // An address containing every separator candidate leaves no separator.
        let mut f = Fixture::new();
        f.house.address = "ул. Вторая | # ; ~ ^".into();
        assert!(matches!(
            f.build(rub("1.00"), Money::ZERO),
            Err(DocumentError::Qr(QrError::NoSeparatorAvailable { .. }))
        ));

        // An address with '|' only moves the separator; the payload still parses back.
        let mut f = Fixture::new();
        f.house.address = "ул. Вторая | корпус 2".into();
        let doc = f.build(rub("1.00"), Money::ZERO).unwrap();
        let qr = parse(&doc.amount_due().qr_payload).unwrap();
        assert_eq!(qr.separator(), '#');
        assert_eq!(
            qr.get("PayerAddress"),
            Some("ул. Вторая | корпус 2, кв. 12")
        );
    }

    #[test]
    fn names_are_split_where_possible() {
        let n = |s: &str| split_person_name(s).map(|p| (p.last, p.first, p.middle));
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            n("Иванов Иван Иванович"),
            Some(("Иванов".into(), s("Иван"), s("Иванович")))
        );
        assert_eq!(n("Иванов И.И."), Some(("Иванов".into(), s("И."), s("И."))));
        assert_eq!(n("Иванов И. И."), Some(("Иванов".into(), s("И."), s("И."))));
        assert_eq!(
            n("Мамедов Али Гусейн оглы"),
            Some(("Мамедов".into(), s("Али"), s("Гусейн оглы")))
        );
        assert_eq!(
            n("Петров-Водкин Кузьма"),
            Some(("Петров-Водкин".into(), s("Кузьма"), None))
        );
        assert_eq!(n("Смирнова"), Some(("Смирнова".into(), None, None)));
        assert_eq!(n("ООО «Ромашка»"), None);
        assert_eq!(n("Кв. 12"), None);
        assert_eq!(n(""), None);

        // A holder that is not a person's name gives no name keys at all.
        let mut f = Fixture::new();
        f.account.holder = "ООО «Ромашка» 2".into();
        let doc = f.build(rub("1.00"), Money::ZERO).unwrap();
        let qr = parse(&doc.amount_due().qr_payload).unwrap();
        assert_eq!((qr.get("LastName"), qr.get("FirstName")), (None, None));
        assert_eq!(doc.payer().payer_name, "ООО «Ромашка» 2");
    }

    #[test]
    fn purpose_falls_back_to_a_general_text_when_too_long() {
        let all = ServiceKind::ALL;
        let full = purpose(&all, march(), PURPOSE_MAX_CHARS);
        assert!(
            full.starts_with("Оплата за электроснабжение, электроснабжение на СОИ (ОДН), холодное")
        );
        assert!(full.chars().count() <= PURPOSE_MAX_CHARS);
        assert_eq!(
            purpose(&all, march(), 40),
            "Оплата за коммунальные услуги за март 2026"
        );
    }

    #[test]
    fn a_replaced_meter_may_open_with_a_reading_of_the_period() {
        // The initial reading of a meter installed in March belongs to March.
        let mut f = Fixture::new();
        f.previous.period = march();
        f.previous.taken_on = date!(2026 - 03 - 03);
        f.previous.source = ReadingSource::ReplacementInitial;
        assert!(f.build(Money::ZERO, Money::ZERO).is_ok());
    }

    #[test]
    fn meter_rows_apply_the_transformation_coefficient_and_show_missing_readings() {
        let mut f = Fixture::new();
        f.meter.registers.coefficient = dec!(30);
        let meters = [MeterReadings {
            meter: &f.meter,
            previous: Some(&f.previous),
            current: None,
        }];
        let with_k = [MeterReadings {
            meter: &f.meter,
            previous: Some(&f.previous),
            current: Some(&f.current),
        }];
        let input = |m| DocumentInput {
            account: &f.account,
            premise: &f.premise,
            house: &f.house,
            period: march(),
            requisites: Some(&f.requisites),
            lines: &f.lines,
            meters: m,
            opening_balance: Money::ZERO,
            payments: Money::ZERO,
            due_day: DueDayPolicy::default(),
        };
        let doc = build_payment_document(&input(&with_k)).unwrap();
        assert_eq!(doc.readings()[0].volume, Some(dec!(4500)));
        assert!(
            doc.to_text()
                .contains("расход 4500 кВт·ч (с коэффициентом трансформации 30)")
        );
        let doc = build_payment_document(&input(&meters)).unwrap();
        assert_eq!(
            (doc.readings()[0].current, doc.readings()[0].volume),
            (None, None)
        );
        assert!(doc.to_text().contains("текущие не переданы"));
    }

    #[test]
    fn russian_numbers() {
        assert_eq!(ru_number(dec!(29.400)), "29,4");
        assert_eq!(ru_number(dec!(-1.50)), "−1,5");
        assert_eq!(ru_number(dec!(0.000)), "0");
        assert_eq!(ru_number(dec!(150)), "150");
    }
}
