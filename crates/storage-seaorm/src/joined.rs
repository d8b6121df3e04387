//! Reading several tables' rows from one joined `SELECT`: each entity's columns under a prefix
//! of their own, decoded by the entity's own `FromQueryResult`.

use sea_orm::sea_query::{Alias, Expr, SelectStatement};
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryResult,
    TryGetError,
};

/// Selects every column of `E` from the table aliased `alias` as `<alias>_<column>`, with
/// the casts the entity reads them with (`select_as`).
pub(crate) fn columns<E: EntityTrait>(q: &mut SelectStatement, alias: &str) {
    for c in E::Column::iter() {
        let expr = c.select_as(Expr::col((Alias::new(alias), c)));
        q.expr_as(expr, Alias::new(format!("{alias}_{}", c.as_str())));
    }
}

/// The model selected under `alias` by [`columns`]; `None` when the joined side is absent
/// (all NULL). A present row that does not decode is an error, not a silent `None`.
pub(crate) fn optional<M: FromQueryResult>(
    row: &QueryResult,
    alias: &str,
) -> Result<Option<M>, DbErr> {
    match M::from_query_result_nullable(row, &format!("{alias}_")) {
        Ok(m) => Ok(Some(m)),
        Err(TryGetError::Null(_)) => Ok(None),
        Err(TryGetError::DbErr(e)) => Err(e),
    }
}
