//! [`Exact`]: a decimal column stored without loss on both backends.
//!
//! SeaORM reads decimals on SQLite through `f64`, which would lose kopecks. So money and volumes
//! are written as `Value::Decimal` (NUMERIC on PostgreSQL, the decimal's exact text on SQLite,
//! whose column is TEXT) and read back as text — every such column is declared with
//! `select_as = "text"` — and parsed by [`crate::convert`], where a value that no longer parses
//! is a [`crate::CorruptRow`], not a panic.

use std::str::FromStr;

use rust_decimal::Decimal;
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, Value, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable};

/// The text of a stored decimal, as read back (not yet parsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exact(pub String);

impl Exact {
    /// The column value of `value`.
    pub fn of(value: Decimal) -> Self {
        Self(value.to_string())
    }
}

impl From<Exact> for Value {
    fn from(e: Exact) -> Self {
        // Only text read back from a damaged row fails to parse; it is written back as it was.
        match Decimal::from_str_exact(&e.0).or_else(|_| Decimal::from_str(&e.0)) {
            Ok(d) => Value::Decimal(Some(d)),
            Err(_) => Value::String(Some(e.0)),
        }
    }
}

impl Nullable for Exact {
    fn null() -> Value {
        Value::Decimal(None)
    }
}

impl ValueType for Exact {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::Decimal(Some(d)) => Ok(Self::of(d)),
            Value::String(Some(s)) => Ok(Self(s)),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "Exact".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::Decimal
    }

    fn column_type() -> ColumnType {
        ColumnType::Decimal(None)
    }
}

impl TryGetable for Exact {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        String::try_get_by(res, index).map(Self)
    }
}
