//! Few statement shapes for bulk statements.
//!
//! A multi-row `INSERT … VALUES (…), (…)` or an `IN (…)` list is a different statement for every
//! number of rows, and the driver keeps each prepared statement in its connection's cache
//! (sqlx: 100 per connection). Bulk statements of arbitrary sizes fill every connection's cache
//! with large, never reused prepared statements — on SQLite hundreds of MiB for a billing run —
//! and prepare every one from scratch. Cutting batches into sizes from a small fixed set
//! (the maximum, then powers of two) keeps at most `log2(max) + 1` shapes per statement, each
//! prepared once per connection and then reused.

use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, ExprTrait};

use crate::storage::Backend;

/// The sizes to cut `n` rows into, at most `max` each: as many `max` as fit, then the
/// remainder as descending powers of two. They add up to `n`.
pub(crate) fn batch_sizes(n: usize, max: usize) -> impl Iterator<Item = usize> {
    let max = max.max(1);
    let mut left = n;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let size = if left >= max {
            max
        } else {
            // The largest power of two not above `left` (left ≥ 1 here).
            1 << (usize::BITS - 1 - left.leading_zeros())
        };
        left -= size;
        Some(size)
    })
}

/// Cuts `rows` into consecutive batches of [`batch_sizes`], in order.
pub(crate) fn batches<T>(rows: Vec<T>, max: usize) -> Vec<Vec<T>> {
    let mut rows = rows.into_iter();
    batch_sizes(rows.len(), max)
        .map(|size| rows.by_ref().take(size).collect())
        .collect()
}

/// `ids` padded to the next power of two by repeating the last one, for an `IN (…)` list:
/// the same set of values, one of few statement shapes.
pub(crate) fn padded_ids(ids: &[i64]) -> Vec<i64> {
    let mut padded = ids.to_vec();
    if let Some(&last) = ids.last() {
        padded.resize(ids.len().next_power_of_two(), last);
    }
    padded
}

/// The condition "`column` is one of `ids`" in one statement shape per backend.
///
/// - PostgreSQL: `column = ANY($n)` with the ids as **one array parameter**. An `IN ($1, …,
///   $2048)` list in a reused prepared statement gets a generic plan that rebuilds the
///   2,048-element array for every row it filters; with stale statistics of a table that a run
///   is filling (`charge_sets` of the billed period), PostgreSQL filtered the whole period's
///   sets that way on every chunk — 2.1–2.5 s per chunk at 300,000 accounts, quadratic in the
///   run's size. One array parameter is evaluated once and lets the primary key be used.
/// - SQLite: the ids [padded](padded_ids) into an `IN (…)` list.
pub(crate) fn one_of(backend: Backend, column: impl ColumnTrait, ids: &[i64]) -> Condition {
    match backend {
        Backend::Postgres => Condition::all()
            .add(Expr::col(column.as_column_ref()).eq(PgFunc::any(Expr::val(ids.to_vec())))),
        Backend::Sqlite => Condition::all().add(column.is_in(padded_ids(ids))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_add_up_and_use_few_shapes() {
        let mut shapes = std::collections::BTreeSet::new();
        for n in 0..3000 {
            let sizes: Vec<usize> = batch_sizes(n, 1000).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n, "n = {n}");
            assert!(sizes.iter().all(|&s| (1..=1000).contains(&s)), "n = {n}");
            shapes.extend(sizes);
        }
        // 1000 and the powers of two below it.
        assert_eq!(shapes.len(), 11, "{shapes:?}");
    }

    #[test]
    fn batches_keep_order() {
        let rows: Vec<u32> = (0..77).collect();
        let cut = batches(rows.clone(), 50);
        assert_eq!(
            cut.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![50, 16, 8, 2, 1]
        );
        assert_eq!(cut.concat(), rows);
    }

    #[test]
    fn padded_ids_keep_the_set() {
        assert!(padded_ids(&[]).is_empty());
        assert_eq!(padded_ids(&[5]), vec![5]);
        assert_eq!(padded_ids(&[1, 2, 3]), vec![1, 2, 3, 3]);
        let ids: Vec<i64> = (0..1000).collect();
        let padded = padded_ids(&ids);
        assert_eq!(padded.len(), 1024);
        assert_eq!(padded[..1000], ids[..]);
    }

    #[test]
    fn one_of_is_one_array_parameter_on_postgres_and_a_padded_list_on_sqlite() {
        use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};

        use crate::entity::charge_set as cs;
        let ids = [7, 8, 9];
        let pg = cs::Entity::find()
            .filter(one_of(Backend::Postgres, cs::Column::AccountId, &ids))
            .build(DbBackend::Postgres);
        assert!(
            pg.sql
                .ends_with(r#"WHERE "charge_sets"."account_id" = ANY($1)"#),
            "{}",
            pg.sql
        );
        assert_eq!(pg.values.map(|v| v.0.len()), Some(1));
        let lite = cs::Entity::find()
            .filter(one_of(Backend::Sqlite, cs::Column::AccountId, &ids))
            .build(DbBackend::Sqlite);
        assert!(
            lite.sql
                .ends_with(r#"WHERE "charge_sets"."account_id" IN (?, ?, ?, ?)"#),
            "{}",
            lite.sql
        );
    }
}
