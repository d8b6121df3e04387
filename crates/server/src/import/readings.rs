//! The readings format: one reading of all registers of a meter per row, from a previous
//! system or an automatic metering system. The row is read first; then each meter is looked
//! up once, and the values are checked against its registers (how many, how many digits and
//! decimals) before anything is stored.

use std::collections::HashMap;

use billing_core::ids::MeterId;
use billing_core::meter::{Meter, ZoneValues};
use billing_core::period::Period;
use billing_core::ports::{MeterRepository, NewReading};
use billing_core::reading::{ReadingError, ReadingSource};
use rust_decimal::Decimal;
use storage_seaorm::Storage;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::table::{Columns, Errors, Lined, Row, date, id, non_negative, period};
use super::{ImportError, cached, stored};

/// The readings format.
pub const READINGS: Columns = Columns {
    required: &["meter", "period", "taken_on", "t1"],
    optional: &["t2", "t3", "source", "submitted_at"],
};

/// A reading as read from its row.
#[derive(Clone, Debug)]
pub struct ReadingRow {
    meter: MeterId,
    period: Period,
    taken_on: Date,
    values: Vec<Decimal>,
    source: ReadingSource,
    submitted_at: Option<OffsetDateTime>,
}

fn source(text: &str) -> Result<ReadingSource, String> {
    match text.to_lowercase().as_str() {
        "subscriber" => Ok(ReadingSource::Subscriber),
        "operator" => Ok(ReadingSource::Operator),
        "automatic" => Ok(ReadingSource::Automatic),
        "control_check" => Ok(ReadingSource::ControlCheck),
        "replacement_final" => Ok(ReadingSource::ReplacementFinal),
        "replacement_initial" => Ok(ReadingSource::ReplacementInitial),
        _ => Err(
            "ожидается источник: operator, automatic, subscriber, control_check, \
                  replacement_final, replacement_initial"
                .to_owned(),
        ),
    }
}

/// The one-accepted-reading slot of a source: a replacement's final and initial readings
/// may share a period with one ordinary reading each.
fn slot(source: ReadingSource) -> u8 {
    match source {
        ReadingSource::ReplacementFinal => 1,
        ReadingSource::ReplacementInitial => 2,
        _ => 0,
    }
}

/// Which row of the file took each (meter, period, slot).
pub type Slots = HashMap<(MeterId, Period, u8), u64>;

/// Reads a readings row; a second reading of a meter, period and slot in the file, and a
/// reading taken after `today`, are errors.
pub fn row(r: &mut Row<'_>, today: Date, slots: &mut Slots) -> Option<ReadingRow> {
    let meter = r.required("meter", id);
    let period = r.required("period", period);
    let taken_on = r.required("taken_on", date);
    let t1 = r.required("t1", non_negative);
    let t2 = r.optional("t2", non_negative);
    let t3 = r.optional("t3", non_negative);
    let source = r.or("source", ReadingSource::Operator, source);
    let submitted_at = r.optional("submitted_at", |t| {
        OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|_| "ожидается время RFC 3339, например 2026-10-20T12:00:00+03:00".to_owned())
    });
    let (meter, period, taken_on, source) = (MeterId::new(meter?), period?, taken_on?, source?);
    if taken_on > today {
        r.fail(Some("taken_on"), "дата показаний ещё не наступила");
    }
    let values = match (t1?, t2?, t3?) {
        (a, None, None) => vec![a],
        (a, Some(b), None) => vec![a, b],
        (a, Some(b), Some(c)) => vec![a, b, c],
        (_, None, Some(_)) => {
            r.fail(Some("t2"), "не заполнено, а t3 заполнено");
            return None;
        }
    };
    if let Some(first) = slots.insert((meter, period, slot(source)), r.line()) {
        r.fail(
            None,
            format!("показание этого прибора за {period} уже есть в строке {first}"),
        );
    }
    Some(ReadingRow {
        meter,
        period,
        taken_on,
        values,
        source,
        submitted_at: submitted_at?,
    })
}

/// The reading error of `values` against the registers of `meter`, if any.
fn check(meter: &Meter, values: &[Decimal]) -> Result<ZoneValues, ReadingError> {
    let spec = &meter.registers;
    let zone_values =
        ZoneValues::new(spec.scheme, values).map_err(|e| ReadingError::WrongZoneCount {
            expected: e.expected,
            given: e.given,
        })?;
    for (zone, value) in zone_values.iter() {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(ReadingError::Negative { zone });
        }
        if value >= spec.capacity() {
            return Err(ReadingError::TooManyDigits {
                zone,
                value,
                digits: spec.digits,
            });
        }
        if value.normalize().scale() > spec.decimals {
            return Err(ReadingError::TooManyDecimals {
                zone,
                value,
                decimals: spec.decimals,
            });
        }
    }
    Ok(zone_values)
}

/// Looks up the meter of every row (once per meter) and checks the values against it:
/// unknown meters and wrong values are line errors. Stops looking up when `errors` is full.
pub async fn resolve(
    storage: &Storage,
    rows: Vec<Lined<ReadingRow>>,
    now: OffsetDateTime,
    errors: &mut Errors,
) -> Result<Vec<NewReading>, ImportError> {
    let mut meters: HashMap<MeterId, Option<Meter>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for Lined { line, item } in rows {
        if errors.is_full() {
            break;
        }
        let meter = cached(&mut meters, &item.meter, async || {
            storage.meter(item.meter).await.map_err(stored)
        })
        .await?;
        let Some(meter) = meter else {
            errors.push(
                line,
                Some("meter"),
                format!("прибора учёта {} нет", item.meter),
            );
            continue;
        };
        match check(&meter, &item.values) {
            Ok(values) => out.push(NewReading {
                meter: item.meter,
                period: item.period,
                values,
                taken_on: item.taken_on,
                submitted_at: item.submitted_at.unwrap_or(now),
                source: item.source,
                supersedes: None,
            }),
            Err(e) => errors.push(line, Some("t1"), e.user_message()),
        }
    }
    Ok(out)
}
