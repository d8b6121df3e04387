//! Conversions between rows ([`crate::entity`]) and the cores' records, one module per
//! aggregate. Reading a row back re-parses every domain value with its own `parse`, so a row
//! that was damaged in the database comes back as a [`CorruptRow`] naming the table, the row
//! and the column, never as a panic or a silently wrong record.
//!
//! Shared encodings live here: times as `i64` nanoseconds since the Unix epoch (UTC), ids as
//! their hex `Display` form, digests as 32 bytes, and the small enums as text tags.

pub mod billing;
pub mod challenge;
pub mod consent;
pub mod ledger;
pub mod link;
pub mod online_payment;
pub mod operator;
pub mod payment;
pub mod question;
pub mod security_event;
pub mod session;
pub mod subscriber;
pub mod throttle;

use identity_core::crypto::SecretDigest;
use identity_core::domain::{AccountNumber, AccountRef, Channel, ClientInfo, SupplierId};
use identity_core::model::LinkProof;
use identity_core::ports::PortError;
use time::OffsetDateTime;

use crate::error::CorruptRow;

/// A time as stored: nanoseconds since the Unix epoch. Times outside 1677–2262 cannot be
/// stored and are refused (no silent clamping).
pub fn to_nanos(at: OffsetDateTime) -> Result<i64, PortError> {
    i64::try_from(at.unix_timestamp_nanos())
        .map_err(|_| PortError::new(format!("time {at} is outside the storable range")))
}

/// A subscriber's version as stored.
pub fn to_db_count(value: u64, what: &str) -> Result<i64, PortError> {
    i64::try_from(value)
        .map_err(|_| PortError::new(format!("{what} {value} is too large to store")))
}

/// Where a value being read back came from, to name it in a [`CorruptRow`].
pub(crate) struct Row {
    table: &'static str,
    key: String,
}

impl Row {
    pub(crate) fn new(table: &'static str, key: impl Into<String>) -> Self {
        Self {
            table,
            key: key.into(),
        }
    }

    /// A corrupt-row error for `column`.
    pub(crate) fn bad(&self, column: &str, problem: impl std::fmt::Display) -> CorruptRow {
        CorruptRow::new(self.table, self.key.clone(), format!("{column}: {problem}"))
    }

    /// Parses `column` with a domain `parse`, naming the column if it fails.
    pub(crate) fn parse<T, E: std::fmt::Display>(
        &self,
        column: &str,
        parsed: Result<T, E>,
    ) -> Result<T, CorruptRow> {
        parsed.map_err(|e| self.bad(column, e))
    }

    pub(crate) fn time(&self, column: &str, nanos: i64) -> Result<OffsetDateTime, CorruptRow> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
            .map_err(|e| self.bad(column, e))
    }

    pub(crate) fn opt_time(
        &self,
        column: &str,
        nanos: Option<i64>,
    ) -> Result<Option<OffsetDateTime>, CorruptRow> {
        nanos.map(|n| self.time(column, n)).transpose()
    }

    pub(crate) fn digest(&self, column: &str, bytes: &[u8]) -> Result<SecretDigest, CorruptRow> {
        <[u8; 32]>::try_from(bytes)
            .map(SecretDigest::from_bytes)
            .map_err(|_| self.bad(column, format!("expected 32 bytes, found {}", bytes.len())))
    }

    pub(crate) fn count(&self, column: &str, value: i64) -> Result<u32, CorruptRow> {
        u32::try_from(value).map_err(|_| self.bad(column, format!("{value} is not a count")))
    }

    pub(crate) fn account(&self, supplier: &str, number: &str) -> Result<AccountRef, CorruptRow> {
        Ok(AccountRef {
            supplier: self.parse("supplier", SupplierId::parse(supplier))?,
            number: self.parse("account number", AccountNumber::parse(number))?,
        })
    }

    pub(crate) fn client(
        &self,
        channel: &str,
        device: Option<String>,
    ) -> Result<ClientInfo, CorruptRow> {
        Ok(ClientInfo {
            channel: channel_from_tag(channel).ok_or_else(|| self.bad("channel", "unknown tag"))?,
            device,
        })
    }
}

/// The tag of a channel.
pub fn channel_tag(channel: Channel) -> &'static str {
    match channel {
        Channel::Web => "web",
        Channel::MobileApp => "mobile_app",
        Channel::Operator => "operator",
        Channel::Api => "api",
    }
}

fn channel_from_tag(tag: &str) -> Option<Channel> {
    Some(match tag {
        "web" => Channel::Web,
        "mobile_app" => Channel::MobileApp,
        "operator" => Channel::Operator,
        "api" => Channel::Api,
        _ => return None,
    })
}

/// The tag of a linking proof.
pub fn proof_tag(proof: LinkProof) -> &'static str {
    match proof {
        LinkProof::HolderName => "holder_name",
        LinkProof::MeterNumber => "meter_number",
        LinkProof::PaymentDocumentCode => "payment_document_code",
        LinkProof::Address => "address",
        LinkProof::CabinetPassword => "cabinet_password",
    }
}

pub(crate) fn proof_from_tag(tag: &str) -> Option<LinkProof> {
    Some(match tag {
        "holder_name" => LinkProof::HolderName,
        "meter_number" => LinkProof::MeterNumber,
        "payment_document_code" => LinkProof::PaymentDocumentCode,
        "address" => LinkProof::Address,
        "cabinet_password" => LinkProof::CabinetPassword,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_round_trip_to_the_nanosecond() {
        let at = datetime!(2025-03-01 10:00:00.123456789 UTC);
        let row = Row::new("t", "k");
        assert_eq!(row.time("at", to_nanos(at).unwrap()), Ok(at));
        let moscow = datetime!(2025-03-01 13:00:00.5 +3);
        assert_eq!(row.time("at", to_nanos(moscow).unwrap()), Ok(moscow));
    }

    #[test]
    fn unstorable_times_and_bad_digests_are_errors_not_panics() {
        assert!(to_nanos(datetime!(2300-01-01 0:00 UTC)).is_err());
        let row = Row::new("sessions", "abc");
        let err = row.digest("token_digest", &[1, 2, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt row in sessions (abc): token_digest: expected 32 bytes, found 3"
        );
        assert!(row.count("failed_attempts", -1).is_err());
    }

    #[test]
    fn tags_round_trip() {
        for channel in [
            Channel::Web,
            Channel::MobileApp,
            Channel::Operator,
            Channel::Api,
        ] {
            assert_eq!(channel_from_tag(channel_tag(channel)), Some(channel));
        }
        for proof in [
            LinkProof::HolderName,
            LinkProof::MeterNumber,
            LinkProof::PaymentDocumentCode,
            LinkProof::Address,
            LinkProof::CabinetPassword,
        ] {
            assert_eq!(proof_from_tag(proof_tag(proof)), Some(proof));
        }
        assert_eq!(channel_from_tag("fax"), None);
    }
}

pub mod account;
pub mod autopay;
pub mod charge;
pub mod house;
pub mod keyrate;
pub mod meter;
pub mod reading;
pub mod recalculation;
pub mod receipt;
pub mod supplier;
pub mod tariff;
pub mod volume;
