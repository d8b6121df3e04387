//! Meter readings: validation (rollover, plausibility, digit capacity), the readings window,
//! correction and cancellation while the period is open (billing-rules.md §2, §3).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::ids::{MeterId, ReadingId};
use crate::meter::{Meter, MeterStatus, RegisterSpec, Zone, ZoneValues};
use crate::money::round_dp;
use crate::period::Period;
use crate::policy::BillingPolicy;

/// Who or what supplied a reading.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingSource {
    /// The subscriber, in the cabinet.
    Subscriber,
    /// An operator of the supplier (phone, office, paper).
    Operator,
    /// An automatic metering system (АСКУЭ/ИСУ).
    Automatic,
    /// A control check by the supplier (ПП 354 п. 61).
    ControlCheck,
    /// The final reading of a meter removed on replacement.
    ReplacementFinal,
    /// The initial reading of a meter installed on replacement.
    ReplacementInitial,
}

/// The state of a stored reading.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingStatus {
    /// In force: used for billing.
    Accepted,
    /// Replaced by a correction (the correction names it in `supersedes`).
    Superseded,
    /// Withdrawn by the subscriber while the period was open.
    Cancelled,
}

/// A reading of all registers of a meter.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Reading {
    /// Id.
    pub id: ReadingId,
    /// The meter read.
    pub meter: MeterId,
    /// The billing period the reading belongs to (the next one if it came after the window).
    pub period: Period,
    /// Register values, in register order.
    pub values: ZoneValues,
    /// The day the values were taken.
    pub taken_on: Date,
    /// When it reached the supplier.
    pub submitted_at: OffsetDateTime,
    /// Who supplied it.
    pub source: ReadingSource,
    /// Whether it is in force.
    pub status: ReadingStatus,
    /// The reading this one corrects, if it is a correction.
    pub supersedes: Option<ReadingId>,
}

/// Why a reading was refused. Each variant says what was wrong and what is expected;
/// [`ReadingError::user_message`] says it in Russian for the subscriber.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingError {
    /// The meter is not in a state that allows readings.
    #[error("meter is not working: {status:?}")]
    MeterNotWorking {
        /// Its state on the reading day.
        status: MeterStatus,
    },
    /// The meter reports by itself; manual readings are refused by the supplier's policy.
    #[error("meter is read automatically")]
    AutomaticMeter,
    /// The number of values does not match the registers.
    #[error("expected {expected} register values, got {given}")]
    WrongZoneCount {
        /// Registers of the meter.
        expected: usize,
        /// Values given.
        given: usize,
    },
    /// A value is negative.
    #[error("value of zone {zone:?} is negative")]
    Negative {
        /// The register.
        zone: Zone,
    },
    /// A value has more integer digits than the register shows.
    #[error("value {value} of zone {zone:?} has more than {digits} digits")]
    TooManyDigits {
        /// The register.
        zone: Zone,
        /// The value given.
        value: Decimal,
        /// Integer digits of the register.
        digits: u32,
    },
    /// A value has more decimals than the register shows.
    #[error("value {value} of zone {zone:?} has more than {decimals} decimals")]
    TooManyDecimals {
        /// The register.
        zone: Zone,
        /// The value given.
        value: Decimal,
        /// Decimal digits of the register.
        decimals: u32,
    },
    /// The value is below the previous one and the rollover it would imply is implausible.
    #[error(
        "value {given} of zone {zone:?} is below the previous {previous} and is not a plausible rollover"
    )]
    LowerThanPrevious {
        /// The register.
        zone: Zone,
        /// The previous accepted value.
        previous: Decimal,
        /// The value given.
        given: Decimal,
    },
    /// The consumption implied is far above the usual.
    #[error("consumption {volume} of zone {zone:?} is above the plausible bound {bound}")]
    Implausible {
        /// The register.
        zone: Zone,
        /// The consumption the value implies.
        volume: Decimal,
        /// The bound.
        bound: Decimal,
    },
    /// The readings window of the period has not opened yet.
    #[error("readings window opens on {opens_on}")]
    WindowNotOpen {
        /// The first day readings are accepted.
        opens_on: Date,
    },
    /// The period the reading belongs to is closed.
    #[error("period {0} is closed")]
    PeriodClosed(Period),
    /// The reading is older than the last accepted one.
    #[error("reading taken on {taken_on} is older than the last accepted reading of {last}")]
    OlderThanLast {
        /// The day of the new reading.
        taken_on: Date,
        /// The day of the last accepted reading.
        last: Date,
    },
}

impl ReadingError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            ReadingError::MeterNotWorking { status } => match status {
                MeterStatus::NotCommissioned => "Прибор учёта ещё не введён в эксплуатацию: показания по нему не принимаются.".into(),
                MeterStatus::Failed { since } => format!("Прибор учёта неисправен с {}: показания не принимаются, начисление ведётся по среднему или нормативу.", ru_date(*since)),
                MeterStatus::VerificationExpired { since } => format!("Истёк межповерочный интервал прибора учёта ({}): показания не принимаются до поверки или замены.", ru_date(*since)),
                MeterStatus::Removed { since } => format!("Прибор учёта снят с учёта {}: передайте показания нового прибора.", ru_date(*since)),
                MeterStatus::Working => "Прибор учёта не принимает показания.".into(),
            },
            ReadingError::AutomaticMeter => "Прибор учёта подключён к автоматизированной системе: показания поступают автоматически и не вносятся вручную.".into(),
            ReadingError::WrongZoneCount { expected, given } => format!("Прибор учёта имеет {expected} тарифн. зон(ы), а передано значений: {given}. Передайте показания каждой зоны."),
            ReadingError::Negative { zone } => format!("Показание зоны «{}» не может быть отрицательным.", zone.russian_name()),
            ReadingError::TooManyDigits { zone, value, digits } => format!("Показание {value} зоны «{}» длиннее табло прибора ({digits} цифр до запятой). Проверьте число.", zone.russian_name()),
            ReadingError::TooManyDecimals { zone, value, decimals } => format!("Показание {value} зоны «{}» содержит больше знаков после запятой, чем показывает прибор ({decimals}).", zone.russian_name()),
            ReadingError::LowerThanPrevious { zone, previous, given } => format!("Показание {given} зоны «{}» меньше предыдущего ({previous}). Если счётчик не переходил через ноль, проверьте число; иначе обратитесь к поставщику.", zone.russian_name()),
            ReadingError::Implausible { zone, volume, bound } => format!("Расход {volume} по зоне «{}» намного выше обычного (не более {bound}). Проверьте показание — вероятна опечатка.", zone.russian_name()),
            ReadingError::WindowNotOpen { opens_on } => format!("Приём показаний за этот период начнётся {}.", ru_date(*opens_on)),
            ReadingError::PeriodClosed(p) => format!("Период «{}» закрыт: показания за него изменить нельзя. Изменение будет учтено перерасчётом.", p.to_russian()),
            ReadingError::OlderThanLast { taken_on, last } => format!("Показание на {} старше последнего принятого ({}).", ru_date(*taken_on), ru_date(*last)),
        }
    }
}

/// `dd.mm.yyyy`.
#[must_use]
pub fn ru_date(d: Date) -> String {
    format!("{:02}.{:02}.{:04}", d.day(), u8::from(d.month()), d.year())
}

/// The consumption between two values of one register.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RegisterDelta {
    /// Δregister, modulo the capacity 10^N when the register rolled over.
    pub delta: Decimal,
    /// Whether the register passed 10^N − 1 and started again from 0.
    pub rollover: bool,
}

/// The register difference `current − previous` modulo 10^N (billing-rules.md §3): 9993 → 0007
/// on a 4-digit register is 14.
///
/// ```
/// use billing_core::{meter::RegisterSpec, reading::register_delta};
/// use rust_decimal::Decimal;
/// let d = register_delta(Decimal::from(9993), Decimal::from(7), &RegisterSpec::single(4));
/// assert_eq!((d.delta, d.rollover), (Decimal::from(14), true));
/// ```
#[must_use]
pub fn register_delta(previous: Decimal, current: Decimal, spec: &RegisterSpec) -> RegisterDelta {
    if current >= previous {
        RegisterDelta {
            delta: current - previous,
            rollover: false,
        }
    } else {
        RegisterDelta {
            delta: current + spec.capacity() - previous,
            rollover: true,
        }
    }
}

/// A reading that passed validation, with what it means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CheckedReading {
    /// The period it belongs to.
    pub period: Period,
    /// Register values.
    pub values: ZoneValues,
    /// Consumption since the previous reading per register (Δ × K, at the service precision);
    /// `None` for the first reading of a meter.
    pub consumption: Option<ZoneValues>,
    /// Which registers rolled over.
    pub rollover: [bool; 3],
}

/// Everything needed to check a new reading.
#[derive(Clone, Copy, Debug)]
pub struct ReadingCheck<'a> {
    /// The meter.
    pub meter: &'a Meter,
    /// The last accepted reading of the meter before this one (values and day), if any.
    pub previous: Option<(&'a ZoneValues, Date)>,
    /// The average monthly consumption per register, if known (for the plausibility bound).
    pub average: Option<&'a ZoneValues>,
    /// The latest closed period, if any.
    pub last_closed: Option<Period>,
    /// Who supplies the reading.
    pub source: ReadingSource,
}

/// Validates register `values` taken on `taken_on`, and says which period they belong to.
///
/// ```
/// use billing_core::meter::*;
/// use billing_core::ids::MeterId;
/// use billing_core::policy::BillingPolicy;
/// use billing_core::reading::*;
/// use billing_core::service::ServiceKind;
/// use rust_decimal::Decimal;
/// use time::macros::date;
///
/// let meter = Meter {
///     id: MeterId::new(1), account: None, service: ServiceKind::Electricity, serial: "1".into(),
///     registers: RegisterSpec::single(4), installed_on: date!(2024-01-01),
///     commissioned_on: Some(date!(2024-01-01)), verification_due: None, failed_on: None,
///     removed_on: None, automatic: false,
/// };
/// let prev = ZoneValues::single(Decimal::from(9993));
/// let check = ReadingCheck { meter: &meter, previous: Some((&prev, date!(2026-02-20))),
///     average: None, last_closed: None, source: ReadingSource::Subscriber };
/// let ok = check_reading(&check, &[Decimal::from(7)], date!(2026-03-20), &BillingPolicy::default()).unwrap();
/// assert_eq!(ok.consumption.unwrap().total(), Decimal::from(14));
/// assert!(ok.rollover[0]);
/// // Late readings belong to the next period.
/// let late = check_reading(&check, &[Decimal::from(7)], date!(2026-03-26), &BillingPolicy::default()).unwrap();
/// assert_eq!(late.period.to_string(), "2026-04");
/// ```
pub fn check_reading(
    check: &ReadingCheck<'_>,
    values: &[Decimal],
    taken_on: Date,
    policy: &BillingPolicy,
) -> Result<CheckedReading, ReadingError> {
    let meter = check.meter;
    let spec = &meter.registers;
    if meter.automatic
        && check.source == ReadingSource::Subscriber
        && policy.refuse_manual_readings_of_automatic_meters
    {
        return Err(ReadingError::AutomaticMeter);
    }
    let status = meter.status_on(taken_on);
    let final_reading = check.source == ReadingSource::ReplacementFinal
        && matches!(status, MeterStatus::Removed { since } if since == taken_on);
    if !status.is_working() && !final_reading && check.source != ReadingSource::ControlCheck {
        return Err(ReadingError::MeterNotWorking { status });
    }
    let values =
        ZoneValues::new(spec.scheme, values).map_err(|e| ReadingError::WrongZoneCount {
            expected: e.expected,
            given: e.given,
        })?;
    let capacity = spec.capacity();
    for (zone, v) in values.iter() {
        if v.is_sign_negative() && !v.is_zero() {
            return Err(ReadingError::Negative { zone });
        }
        if v.trunc() >= capacity {
            return Err(ReadingError::TooManyDigits {
                zone,
                value: v,
                digits: spec.digits,
            });
        }
        if round_dp(v, spec.decimals) != v {
            return Err(ReadingError::TooManyDecimals {
                zone,
                value: v,
                decimals: spec.decimals,
            });
        }
    }

    let window = &policy.readings_window;
    let period = if check.source == ReadingSource::Subscriber {
        if !window.accept_before_window && u32::from(taken_on.day()) < window.opens_on_day {
            let opens_on = Period::of(taken_on).day_clamped(window.opens_on_day);
            return Err(ReadingError::WindowNotOpen { opens_on });
        }
        window.period_for(taken_on)
    } else {
        Period::of(taken_on)
    };
    if check.last_closed.is_some_and(|c| period <= c) {
        return Err(ReadingError::PeriodClosed(period));
    }

    let dp = policy.volume_dp(meter.service);
    let mut rollover = [false; 3];
    let consumption = match check.previous {
        None => None,
        Some((prev, prev_day)) => {
            if taken_on < prev_day {
                return Err(ReadingError::OlderThanLast {
                    taken_on,
                    last: prev_day,
                });
            }
            let mut out = ZoneValues::zero(spec.scheme);
            let mut deltas = [Decimal::ZERO; 3];
            for (i, ((zone, cur), p)) in
                values.iter().zip(prev.values().iter().copied()).enumerate()
            {
                let d = register_delta(p, cur, spec);
                if d.rollover {
                    let limit = capacity * policy.plausibility.rollover_max_share_of_capacity;
                    if d.delta >= limit {
                        return Err(ReadingError::LowerThanPrevious {
                            zone,
                            previous: p,
                            given: cur,
                        });
                    }
                }
                let volume = round_dp(d.delta * spec.coefficient, dp);
                if let Some(avg) = check.average {
                    let a = avg.values().get(i).copied().unwrap_or_default();
                    let bound = (a * policy.plausibility.max_multiple_of_average)
                        .max(policy.plausibility.min_implausible_volume);
                    if volume > bound {
                        return Err(ReadingError::Implausible {
                            zone,
                            volume,
                            bound,
                        });
                    }
                }
                rollover[i] = d.rollover;
                deltas[i] = volume;
            }
            out = ZoneValues::new(spec.scheme, &deltas[..spec.scheme.len()]).unwrap_or(out);
            Some(out)
        }
    };
    Ok(CheckedReading {
        period,
        values,
        consumption,
        rollover,
    })
}

/// Why a stored reading cannot be corrected or cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeReadingError {
    /// The reading's period is closed: it never changes (a correction becomes a recalculation).
    #[error("period {0} is closed")]
    PeriodClosed(Period),
    /// The window of the reading's period has closed.
    #[error("readings window of {0} has closed")]
    WindowClosed(Period),
    /// The reading is not in force (already corrected or cancelled).
    #[error("reading is {0:?}, not accepted")]
    NotAccepted(ReadingStatus),
    /// Only the subscriber's own readings can be changed by the subscriber.
    #[error("reading was supplied by {0:?}")]
    NotOwnReading(ReadingSource),
    /// The corrected values are invalid.
    #[error(transparent)]
    Invalid(#[from] ReadingError),
}

impl ChangeReadingError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            ChangeReadingError::PeriodClosed(p) => format!("Период «{}» закрыт: показание изменить нельзя.", p.to_russian()),
            ChangeReadingError::WindowClosed(p) => format!("Срок приёма показаний за «{}» истёк: исправление невозможно.", p.to_russian()),
            ChangeReadingError::NotAccepted(_) => "Это показание уже исправлено или отменено.".into(),
            ChangeReadingError::NotOwnReading(_) => "Показание внесено поставщиком или автоматически: изменить его можно только через обращение.".into(),
            ChangeReadingError::Invalid(e) => e.user_message(),
        }
    }
}

/// Checks that `reading` may still be corrected or cancelled on `today` by the subscriber:
/// its period is open and the period's window has not closed (billing-rules.md §2).
pub fn ensure_changeable(
    reading: &Reading,
    today: Date,
    last_closed: Option<Period>,
    policy: &BillingPolicy,
) -> Result<(), ChangeReadingError> {
    if reading.status != ReadingStatus::Accepted {
        return Err(ChangeReadingError::NotAccepted(reading.status));
    }
    if reading.source != ReadingSource::Subscriber {
        return Err(ChangeReadingError::NotOwnReading(reading.source));
    }
    if last_closed.is_some_and(|c| reading.period <= c) {
        return Err(ChangeReadingError::PeriodClosed(reading.period));
    }
    let closes = reading
        .period
        .day_clamped(policy.readings_window.closes_on_day);
    if today > closes {
        return Err(ChangeReadingError::WindowClosed(reading.period));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::ZoneScheme;
    use crate::service::ServiceKind;
    use rust_decimal_macros::dec;
    use time::macros::{date, datetime};

    fn meter(scheme: ZoneScheme) -> Meter {
        Meter {
            id: MeterId::new(1),
            account: None,
            service: ServiceKind::Electricity,
            serial: "1".into(),
            registers: RegisterSpec {
                scheme,
                digits: 5,
                decimals: 1,
                coefficient: dec!(1),
            },
            installed_on: date!(2024 - 01 - 01),
            commissioned_on: Some(date!(2024 - 01 - 01)),
            verification_due: Some(date!(2030 - 01 - 01)),
            failed_on: None,
            removed_on: None,
            automatic: false,
        }
    }

    fn check<'a>(
        m: &'a Meter,
        prev: &'a ZoneValues,
        avg: Option<&'a ZoneValues>,
    ) -> ReadingCheck<'a> {
        ReadingCheck {
            meter: m,
            previous: Some((prev, date!(2026 - 02 - 20))),
            average: avg,
            last_closed: Some(Period::new(2026, 2).unwrap()),
            source: ReadingSource::Subscriber,
        }
    }

    #[test]
    fn refusals_are_specific() {
        let p = BillingPolicy::default();
        let m = meter(ZoneScheme::TwoZone);
        let prev = ZoneValues::new(ZoneScheme::TwoZone, &[dec!(100), dec!(50)]).unwrap();
        let c = check(&m, &prev, None);
        let d = date!(2026 - 03 - 20);
        assert_eq!(
            check_reading(&c, &[dec!(1)], d, &p),
            Err(ReadingError::WrongZoneCount {
                expected: 2,
                given: 1
            })
        );
        assert_eq!(
            check_reading(&c, &[dec!(-1), dec!(60)], d, &p),
            Err(ReadingError::Negative { zone: Zone::Day })
        );
        assert!(matches!(
            check_reading(&c, &[dec!(100000), dec!(60)], d, &p),
            Err(ReadingError::TooManyDigits { .. })
        ));
        assert!(matches!(
            check_reading(&c, &[dec!(150.25), dec!(60)], d, &p),
            Err(ReadingError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            check_reading(&c, &[dec!(90), dec!(60)], d, &p),
            Err(ReadingError::LowerThanPrevious {
                zone: Zone::Day,
                ..
            })
        ));
        assert!(matches!(
            check_reading(&c, &[dec!(120), dec!(60)], date!(2026 - 02 - 10), &p),
            Err(ReadingError::PeriodClosed(_))
        ));
        let ok = check_reading(&c, &[dec!(150.5), dec!(60)], d, &p).unwrap();
        assert_eq!(ok.consumption.unwrap().values(), &[dec!(50.5), dec!(10)]);
        for e in [
            ReadingError::AutomaticMeter,
            ReadingError::Negative { zone: Zone::Night },
        ] {
            assert!(!e.user_message().is_empty());
        }
    }

    #[test]
    fn plausibility_bound_uses_average() {
        let p = BillingPolicy::default();
        let m = meter(ZoneScheme::Single);
        let prev = ZoneValues::single(dec!(100));
        let avg = ZoneValues::single(dec!(200));
        let c = check(&m, &prev, Some(&avg));
        assert!(check_reading(&c, &[dec!(2100)], date!(2026 - 03 - 20), &p).is_ok());
        assert_eq!(
            check_reading(&c, &[dec!(2200)], date!(2026 - 03 - 20), &p),
            Err(ReadingError::Implausible {
                zone: Zone::Total,
                volume: dec!(2100.000),
                bound: dec!(2000)
            })
        );
    }

    #[test]
    fn transformation_coefficient_multiplies() {
        let p = BillingPolicy::default();
        let mut m = meter(ZoneScheme::Single);
        m.registers.coefficient = dec!(30);
        let prev = ZoneValues::single(dec!(99990));
        let c = check(&m, &prev, None);
        let ok = check_reading(&c, &[dec!(5)], date!(2026 - 03 - 20), &p).unwrap();
        assert_eq!(ok.consumption.unwrap().total(), dec!(450));
    }

    #[test]
    fn broken_and_automatic_meters_refuse() {
        let p = BillingPolicy::default();
        let mut m = meter(ZoneScheme::Single);
        m.failed_on = Some(date!(2026 - 03 - 01));
        let prev = ZoneValues::single(dec!(1));
        assert!(matches!(
            check_reading(
                &check(&m, &prev, None),
                &[dec!(2)],
                date!(2026 - 03 - 20),
                &p
            ),
            Err(ReadingError::MeterNotWorking { .. })
        ));
        let mut a = meter(ZoneScheme::Single);
        a.automatic = true;
        assert_eq!(
            check_reading(
                &check(&a, &prev, None),
                &[dec!(2)],
                date!(2026 - 03 - 20),
                &p
            ),
            Err(ReadingError::AutomaticMeter)
        );
    }

    #[test]
    fn changes_only_while_open() {
        let p = BillingPolicy::default();
        let r = Reading {
            id: ReadingId::new(1),
            meter: MeterId::new(1),
            period: Period::new(2026, 3).unwrap(),
            values: ZoneValues::single(dec!(1)),
            taken_on: date!(2026 - 03 - 20),
            submitted_at: datetime!(2026-03-20 10:00 UTC),
            source: ReadingSource::Subscriber,
            status: ReadingStatus::Accepted,
            supersedes: None,
        };
        assert_eq!(
            ensure_changeable(&r, date!(2026 - 03 - 25), None, &p),
            Ok(())
        );
        assert_eq!(
            ensure_changeable(&r, date!(2026 - 03 - 26), None, &p),
            Err(ChangeReadingError::WindowClosed(r.period))
        );
        assert_eq!(
            ensure_changeable(&r, date!(2026 - 03 - 21), Some(r.period), &p),
            Err(ChangeReadingError::PeriodClosed(r.period))
        );
    }
}
