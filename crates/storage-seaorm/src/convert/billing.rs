//! Shared encodings of the billing tables: numeric ids as BIGINT, days as `YYYY-MM-DD`,
//! periods as `year * 100 + month`, money and decimals as [`Exact`], services, payment states
//! and adjustment reasons as text tags, payment splits as the adapter's own JSON.
//!
//! Every tag is spelled here, not derived from a domain type's serde form, so renaming a
//! domain variant never changes what is stored.

use std::str::FromStr;

use billing_core::ledger::{AdjustmentReason, PaymentSplit, PaymentState};
use billing_core::meter::{ZoneScheme, ZoneValues};
use billing_core::money::Money;
use billing_core::period::Period;
use billing_core::ports::RepoError;
use billing_core::service::ServiceKind;
use billing_core::tariff::ConsumerGroup;
use billing_core::volume::VolumeKind;
use rust_decimal::Decimal;
use time::Date;
use time::macros::format_description;

use super::Row;
use crate::entity::Exact;

const DAY: &[time::format_description::BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]");

/// A numeric domain id as stored.
pub fn to_db_id(raw: u64) -> Result<i64, RepoError> {
    i64::try_from(raw).map_err(|_| RepoError::Unavailable(format!("id {raw} is too large")))
}

/// A period as stored: `year * 100 + month`.
pub fn period_code(period: Period) -> i32 {
    // Months are 1–12, so this never collides; years are far from overflowing.
    period.year() * 100 + i32::try_from(period.month_number()).unwrap_or(0)
}

/// A day as stored.
pub fn day_text(date: Date) -> String {
    date.format(DAY).unwrap_or_else(|_| date.to_string())
}

/// Money as stored.
pub fn money(amount: Money) -> Exact {
    Exact::of(amount.amount())
}

/// The tag of a service.
pub fn service_tag(service: ServiceKind) -> &'static str {
    match service {
        ServiceKind::Electricity => "electricity",
        ServiceKind::ElectricityCommon => "electricity_common",
        ServiceKind::ColdWater => "cold_water",
        ServiceKind::HotWater => "hot_water",
        ServiceKind::Heating => "heating",
        ServiceKind::Wastewater => "wastewater",
        ServiceKind::Penalty => "penalty",
    }
}

fn service_from_tag(tag: &str) -> Option<ServiceKind> {
    ServiceKind::ALL
        .into_iter()
        .find(|s| service_tag(*s) == tag)
}

/// The tag of a payment state.
pub fn state_tag(state: PaymentState) -> &'static str {
    match state {
        PaymentState::Created => "created",
        PaymentState::Pending => "pending",
        PaymentState::Succeeded => "succeeded",
        PaymentState::Failed => "failed",
        PaymentState::Refunded => "refunded",
    }
}

const STATES: [PaymentState; 5] = [
    PaymentState::Created,
    PaymentState::Pending,
    PaymentState::Succeeded,
    PaymentState::Failed,
    PaymentState::Refunded,
];

/// An adjustment reason as a tag and, for `Other`, its words.
pub fn reason_columns(reason: &AdjustmentReason) -> (&'static str, Option<String>) {
    match reason {
        AdjustmentReason::TrueUp => ("true_up", None),
        AdjustmentReason::ControlCheck => ("control_check", None),
        AdjustmentReason::Correction => ("correction", None),
        AdjustmentReason::QualityReduction => ("quality_reduction", None),
        AdjustmentReason::Other(words) => ("other", Some(words.clone())),
    }
}

/// A payment split as stored: NULL for the default order, else `[["service", "amount"], …]`.
pub fn split_json(split: &PaymentSplit) -> Option<String> {
    match split {
        PaymentSplit::Default => None,
        PaymentSplit::ByService(parts) => {
            let parts: Vec<(&str, String)> = parts
                .iter()
                .map(|(s, m)| (service_tag(*s), m.amount().to_string()))
                .collect();
            Some(serde_json::json!(parts).to_string())
        }
    }
}

/// The tag of a zone scheme.
pub fn scheme_tag(scheme: ZoneScheme) -> &'static str {
    match scheme {
        ZoneScheme::Single => "single",
        ZoneScheme::TwoZone => "two_zone",
        ZoneScheme::ThreeZone => "three_zone",
    }
}

const SCHEMES: [ZoneScheme; 3] = [
    ZoneScheme::Single,
    ZoneScheme::TwoZone,
    ZoneScheme::ThreeZone,
];

/// Register values as stored: the exact decimals joined by `;`, in register order (`5910;1200`).
/// The number of values gives the zone scheme.
pub fn zone_values_text(values: &ZoneValues) -> String {
    values
        .values()
        .iter()
        .map(Decimal::to_string)
        .collect::<Vec<_>>()
        .join(";")
}

/// The tag of a volume kind.
pub fn volume_kind_tag(kind: VolumeKind) -> &'static str {
    match kind {
        VolumeKind::Readings => "readings",
        VolumeKind::TrueUp => "true_up",
        VolumeKind::Average => "average",
        VolumeKind::Norm => "norm",
    }
}

const VOLUME_KINDS: [VolumeKind; 4] = [
    VolumeKind::Readings,
    VolumeKind::TrueUp,
    VolumeKind::Average,
    VolumeKind::Norm,
];

impl Row {
    /// A stored numeric id.
    pub(crate) fn id(&self, column: &str, value: i64) -> Result<u64, crate::CorruptRow> {
        u64::try_from(value).map_err(|_| self.bad(column, format!("{value} is not an id")))
    }

    /// A stored decimal of any scale.
    pub(crate) fn decimal(
        &self,
        column: &str,
        value: &Exact,
    ) -> Result<Decimal, crate::CorruptRow> {
        Decimal::from_str_exact(&value.0)
            .or_else(|_| Decimal::from_str(&value.0))
            .map_err(|e| self.bad(column, format!("'{}': {e}", value.0)))
    }

    /// A stored amount of money.
    pub(crate) fn money(&self, column: &str, value: &Exact) -> Result<Money, crate::CorruptRow> {
        let d = self.decimal(column, value)?;
        self.parse(column, Money::exact(d))
    }

    /// A stored amount that its row requires.
    pub(crate) fn some_money(
        &self,
        column: &str,
        value: Option<&Exact>,
    ) -> Result<Money, crate::CorruptRow> {
        self.money(column, value.ok_or_else(|| self.bad(column, "missing"))?)
    }

    /// A stored period.
    pub(crate) fn period(&self, column: &str, code: i32) -> Result<Period, crate::CorruptRow> {
        let month = u32::try_from(code.rem_euclid(100)).unwrap_or(0);
        self.parse(column, Period::new(code.div_euclid(100), month))
    }

    /// A stored period that its row requires.
    pub(crate) fn some_period(
        &self,
        column: &str,
        code: Option<i32>,
    ) -> Result<Period, crate::CorruptRow> {
        self.period(column, code.ok_or_else(|| self.bad(column, "missing"))?)
    }

    /// A stored day.
    pub(crate) fn day(&self, column: &str, text: &str) -> Result<Date, crate::CorruptRow> {
        self.parse(column, Date::parse(text, DAY))
    }

    /// A stored day that its row requires.
    pub(crate) fn some_day(
        &self,
        column: &str,
        text: Option<&str>,
    ) -> Result<Date, crate::CorruptRow> {
        self.day(column, text.ok_or_else(|| self.bad(column, "missing"))?)
    }

    /// A stored service tag.
    pub(crate) fn service(
        &self,
        column: &str,
        tag: Option<&str>,
    ) -> Result<ServiceKind, crate::CorruptRow> {
        let tag = tag.ok_or_else(|| self.bad(column, "missing"))?;
        service_from_tag(tag).ok_or_else(|| self.bad(column, format!("unknown tag '{tag}'")))
    }

    /// A stored payment state tag.
    pub(crate) fn state(
        &self,
        column: &str,
        tag: Option<&str>,
    ) -> Result<PaymentState, crate::CorruptRow> {
        let tag = tag.ok_or_else(|| self.bad(column, "missing"))?;
        STATES
            .into_iter()
            .find(|s| state_tag(*s) == tag)
            .ok_or_else(|| self.bad(column, format!("unknown tag '{tag}'")))
    }

    /// A stored adjustment reason.
    pub(crate) fn reason(
        &self,
        tag: Option<&str>,
        words: Option<String>,
    ) -> Result<AdjustmentReason, crate::CorruptRow> {
        Ok(match tag {
            Some("true_up") => AdjustmentReason::TrueUp,
            Some("control_check") => AdjustmentReason::ControlCheck,
            Some("correction") => AdjustmentReason::Correction,
            Some("quality_reduction") => AdjustmentReason::QualityReduction,
            Some("other") => AdjustmentReason::Other(
                words.ok_or_else(|| self.bad("reason_text", "missing for 'other'"))?,
            ),
            Some(tag) => return Err(self.bad("reason", format!("unknown tag '{tag}'"))),
            None => return Err(self.bad("reason", "missing")),
        })
    }

    /// Stored register values ([`zone_values_text`]).
    pub(crate) fn zone_values(
        &self,
        column: &str,
        text: &str,
    ) -> Result<ZoneValues, crate::CorruptRow> {
        let values = text
            .split(';')
            .map(|v| self.decimal(column, &Exact(v.to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        let scheme = match values.len() {
            1 => ZoneScheme::Single,
            2 => ZoneScheme::TwoZone,
            3 => ZoneScheme::ThreeZone,
            n => return Err(self.bad(column, format!("{n} register values"))),
        };
        self.parse(column, ZoneValues::new(scheme, &values))
    }

    /// A stored zone scheme tag.
    pub(crate) fn scheme(&self, column: &str, tag: &str) -> Result<ZoneScheme, crate::CorruptRow> {
        SCHEMES
            .into_iter()
            .find(|s| scheme_tag(*s) == tag)
            .ok_or_else(|| self.bad(column, format!("unknown tag '{tag}'")))
    }

    /// A stored volume kind tag.
    pub(crate) fn volume_kind(
        &self,
        column: &str,
        tag: &str,
    ) -> Result<VolumeKind, crate::CorruptRow> {
        VOLUME_KINDS
            .into_iter()
            .find(|k| volume_kind_tag(*k) == tag)
            .ok_or_else(|| self.bad(column, format!("unknown tag '{tag}'")))
    }

    /// A stored payment split.
    pub(crate) fn split(&self, json: Option<&str>) -> Result<PaymentSplit, crate::CorruptRow> {
        let Some(json) = json else {
            return Ok(PaymentSplit::Default);
        };
        let parts: Vec<(String, String)> =
            serde_json::from_str(json).map_err(|e| self.bad("split", e))?;
        let parts = parts
            .into_iter()
            .map(|(s, m)| {
                Ok((
                    self.service("split", Some(&s))?,
                    self.money("split", &Exact(m))?,
                ))
            })
            .collect::<Result<_, crate::CorruptRow>>()?;
        Ok(PaymentSplit::ByService(parts))
    }
}

/// A value object with no natural columns (policies, services, tariff prices, window effects)
/// as stored: JSON of the domain type's serde form. Each such form is pinned by a golden test
/// next to its conversion, so a change of the domain's serde form fails a test instead of
/// silently changing what is stored.
pub fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<String, RepoError> {
    serde_json::to_string(value).map_err(|e| RepoError::Unavailable(format!("encode {what}: {e}")))
}

/// A small count (persons, rooms, register digits) as stored in an INTEGER column.
pub fn to_db_int(value: u32, what: &str) -> Result<i32, RepoError> {
    i32::try_from(value)
        .map_err(|_| RepoError::Unavailable(format!("{what} {value} is too large to store")))
}

/// An instant as stored: nanoseconds since the Unix epoch, UTC (as in the identity tables).
/// Instants outside 1677–2262 cannot be stored and are refused.
pub fn to_db_nanos(at: time::OffsetDateTime) -> Result<i64, RepoError> {
    i64::try_from(at.unix_timestamp_nanos())
        .map_err(|_| RepoError::Unavailable(format!("time {at} is outside the storable range")))
}

/// The tag of a consumer group.
pub fn group_tag(group: ConsumerGroup) -> &'static str {
    match group {
        ConsumerGroup::Population => "population",
        ConsumerGroup::UrbanElectricStoves => "urban_electric_stoves",
        ConsumerGroup::Rural => "rural",
        ConsumerGroup::Equated => "equated",
    }
}

const GROUPS: [ConsumerGroup; 4] = [
    ConsumerGroup::Population,
    ConsumerGroup::UrbanElectricStoves,
    ConsumerGroup::Rural,
    ConsumerGroup::Equated,
];

impl Row {
    /// A stored JSON value ([`to_json`]).
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        column: &str,
        text: &str,
    ) -> Result<T, crate::CorruptRow> {
        serde_json::from_str(text).map_err(|e| self.bad(column, e))
    }

    /// A stored small count ([`to_db_int`]).
    pub(crate) fn int(&self, column: &str, value: i32) -> Result<u32, crate::CorruptRow> {
        self.count(column, i64::from(value))
    }

    /// A stored day that may be absent.
    pub(crate) fn opt_day(
        &self,
        column: &str,
        text: Option<&str>,
    ) -> Result<Option<Date>, crate::CorruptRow> {
        text.map(|t| self.day(column, t)).transpose()
    }

    /// A stored decimal that may be absent.
    pub(crate) fn opt_decimal(
        &self,
        column: &str,
        value: Option<&Exact>,
    ) -> Result<Option<Decimal>, crate::CorruptRow> {
        value.map(|v| self.decimal(column, v)).transpose()
    }

    /// A stored consumer group tag.
    pub(crate) fn group(
        &self,
        column: &str,
        tag: &str,
    ) -> Result<ConsumerGroup, crate::CorruptRow> {
        GROUPS
            .into_iter()
            .find(|g| group_tag(*g) == tag)
            .ok_or_else(|| self.bad(column, format!("unknown tag '{tag}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let row = Row::new("t", "k");
        for s in ServiceKind::ALL {
            assert_eq!(row.service("service", Some(service_tag(s))), Ok(s));
        }
        for s in STATES {
            assert_eq!(row.state("state", Some(state_tag(s))), Ok(s));
        }
        for r in [
            AdjustmentReason::TrueUp,
            AdjustmentReason::ControlCheck,
            AdjustmentReason::Correction,
            AdjustmentReason::QualityReduction,
            AdjustmentReason::Other("перерасчёт".into()),
        ] {
            let (tag, words) = reason_columns(&r);
            assert_eq!(row.reason(Some(tag), words), Ok(r));
        }
        let p = Period::new(2025, 11).unwrap();
        assert_eq!(row.period("period", period_code(p)), Ok(p));
        assert!(row.period("period", 202513).is_err());
        let split = PaymentSplit::ByService(vec![(ServiceKind::Heating, Money::from_kopecks(-5))]);
        assert_eq!(row.split(split_json(&split).as_deref()), Ok(split));
        assert_eq!(row.split(None), Ok(PaymentSplit::Default));
        for s in SCHEMES {
            assert_eq!(row.scheme("scheme", scheme_tag(s)), Ok(s));
        }
        for k in VOLUME_KINDS {
            assert_eq!(row.volume_kind("kind", volume_kind_tag(k)), Ok(k));
        }
        for g in GROUPS {
            assert_eq!(row.group("consumer_group", group_tag(g)), Ok(g));
        }
        assert!(row.group("consumer_group", "aliens").is_err());
        let two = ZoneValues::new(
            ZoneScheme::TwoZone,
            &[Decimal::new(59_101, 1), Decimal::new(-12, 3)],
        )
        .unwrap();
        assert_eq!(row.zone_values("values", &zone_values_text(&two)), Ok(two));
        assert!(row.zone_values("values", "1;2;3;4").is_err());
        assert!(row.zone_values("values", "").is_err());
    }

    #[test]
    fn damaged_values_are_corrupt_rows() {
        let row = Row::new("payments", "id 1");
        assert!(row.money("amount", &Exact("1.005".into())).is_err());
        assert!(row.money("amount", &Exact("abc".into())).is_err());
        assert!(row.day("created_on", "2025-02-30").is_err());
        assert!(row.service("service", Some("gas")).is_err());
        assert!(row.split(Some("{")).is_err());
    }
}
