//! Column definitions for exact decimals: the one place their SQL type is chosen per backend.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A money column: `NUMERIC(30, 2)` on PostgreSQL (every `Money` fits: at most 27 digits before
/// the point), `TEXT` holding the exact decimal on SQLite — never REAL, and not NUMERIC either,
/// whose SQLite affinity would turn the text into a float.
pub(crate) fn money(manager: &SchemaManager, name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    match manager.get_database_backend() {
        DbBackend::Postgres => column.decimal_len(30, 2),
        _ => column.text(),
    };
    column
}

/// A decimal column of any scale (areas, volumes, prices, coefficients, rates): `NUMERIC`
/// without a fixed precision on PostgreSQL (the value is kept with the scale it was written
/// with), `TEXT` holding the exact decimal on SQLite, for the reason given at [`money`].
pub(crate) fn decimal(manager: &SchemaManager, name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    match manager.get_database_backend() {
        DbBackend::Postgres => column.decimal(),
        _ => column.text(),
    };
    column
}
