//! Few statement shapes for bulk statements.
//!
//! A multi-row `INSERT … VALUES (…), (…)` or an `IN (…)` list is a different statement for every
//! number of rows, and the driver keeps each prepared statement in its connection's cache
//! (sqlx: 100 per connection). Bulk statements of arbitrary sizes fill every connection's cache
//! with large, never reused prepared statements — on SQLite hundreds of MiB for a billing run —
//! and prepare every one from scratch. Cutting batches into sizes from a small fixed set
//! (the maximum, then powers of two) keeps at most `log2(max) + 1` shapes per statement, each
//! prepared once per connection and then reused.

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
}
