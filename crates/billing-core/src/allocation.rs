//! Largest-remainder allocation: splitting an amount or a volume into parts that add up exactly.
//!
//! Used wherever a whole is divided (ОДН shares by area, a payment across services, a VAT
//! breakdown, a volume split by days between tariff versions): billing-rules.md §1 requires the
//! parts to add up to the whole to the last unit.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::money::Money;

/// Why an allocation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// There is nothing to split by: no weights, or all of them zero, while the total is not zero.
    #[error("cannot split {0} by weights that are all zero")]
    NoWeight(Decimal),
    /// A weight is negative.
    #[error("weight {0} is negative")]
    NegativeWeight(Decimal),
    /// The total has more decimals than the unit of the split.
    #[error("total {total} is finer than {dp} decimal places")]
    TotalTooFine {
        /// The total to split.
        total: Decimal,
        /// The number of decimal places of each part.
        dp: u32,
    },
}

/// Splits `total` into parts proportional to `weights`, each with `dp` decimal places, so that
/// the parts add up to `total` exactly (Hamilton's largest-remainder method).
///
/// Each part is its exact share rounded down to the unit, and the units left over go one each
/// to the parts with the largest remainders; ties go to the earlier part, so the result is
/// deterministic. A negative total is split as its absolute value and negated. Each part differs
/// from its exact proportional share by less than one unit.
///
/// ```
/// use billing_core::allocation::allocate;
/// use rust_decimal::Decimal;
/// let parts = allocate(Decimal::new(100, 2), &[Decimal::ONE; 3], 2).unwrap();
/// assert_eq!(parts, vec![Decimal::new(34, 2), Decimal::new(33, 2), Decimal::new(33, 2)]);
/// ```
pub fn allocate(
    total: Decimal,
    weights: &[Decimal],
    dp: u32,
) -> Result<Vec<Decimal>, AllocationError> {
    if let Some(w) = weights
        .iter()
        .find(|w| w.is_sign_negative() && !w.is_zero())
    {
        return Err(AllocationError::NegativeWeight(*w));
    }
    let unit = Decimal::new(1, dp);
    let mut t = total;
    t.rescale(dp);
    if t != total {
        return Err(AllocationError::TotalTooFine { total, dp });
    }
    let zero = {
        let mut z = Decimal::ZERO;
        z.rescale(dp);
        z
    };
    if total.is_zero() {
        return Ok(vec![zero; weights.len()]);
    }
    let sum_w: Decimal = weights.iter().copied().sum();
    if sum_w.is_zero() {
        return Err(AllocationError::NoWeight(total));
    }
    let negative = total.is_sign_negative();
    let abs_total = total.abs();

    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(Decimal, usize)> = Vec::with_capacity(weights.len());
    let mut allocated = Decimal::ZERO;
    // One division, then a multiplication per part; the fix-up below absorbs the last-digit
    // error either way, so the parts still add up exactly.
    let factor = abs_total / sum_w;
    for (i, w) in weights.iter().enumerate() {
        let exact = *w * factor;
        let mut floor = exact.trunc_with_scale(dp);
        floor.rescale(dp);
        remainders.push((exact - floor, i));
        allocated += floor;
        parts.push(floor);
    }
    // Units still to hand out; may be negative by a unit when a quotient was rounded up in the
    // 28th digit, in which case the smallest remainders give one back.
    let left = ((abs_total - allocated) / unit)
        .round()
        .to_i64()
        .unwrap_or(0);
    if left > 0 {
        // Units go to the largest remainders, ties to the earlier part: a total order, so only
        // the top `left` need finding (O(n)), not a full sort.
        remainders.retain(|(_, i)| !weights[*i].is_zero());
        let by_priority =
            |a: &(Decimal, usize), b: &(Decimal, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        let take = usize::try_from(left).unwrap_or(0);
        if take < remainders.len() {
            remainders.select_nth_unstable_by(take - 1, by_priority);
            for &(_, i) in &remainders[..take] {
                parts[i] += unit;
            }
        } else {
            remainders.sort_unstable_by(by_priority);
            for &(_, i) in remainders.iter().cycle().take(take) {
                parts[i] += unit;
            }
        }
    } else if left < 0 {
        remainders.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut need = -left;
        for &(_, i) in remainders.iter().cycle() {
            if need == 0 {
                break;
            }
            if parts[i] >= unit {
                parts[i] -= unit;
                need -= 1;
            }
        }
    }
    if negative {
        for p in &mut parts {
            *p = -*p;
            p.rescale(dp);
        }
    }
    Ok(parts)
}

/// Splits an amount of money into kopeck-exact parts proportional to `weights`.
///
/// ```
/// use billing_core::{allocation::allocate_money, money::Money};
/// use rust_decimal::Decimal;
/// let parts = allocate_money(Money::from_kopecks(1000), &[Decimal::ONE, Decimal::TWO]).unwrap();
/// assert_eq!(parts, vec![Money::from_kopecks(333), Money::from_kopecks(667)]);
/// ```
pub fn allocate_money(total: Money, weights: &[Decimal]) -> Result<Vec<Money>, AllocationError> {
    Ok(allocate(total.amount(), weights, 2)?
        .into_iter()
        .map(Money::round)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn splits_evenly_with_leftover_to_first() {
        assert_eq!(
            allocate(dec!(0.02), &[dec!(1); 3], 2).unwrap(),
            vec![dec!(0.01), dec!(0.01), dec!(0.00)]
        );
    }

    #[test]
    fn zero_weights_get_nothing() {
        assert_eq!(
            allocate(dec!(10), &[dec!(0), dec!(3)], 0).unwrap(),
            vec![dec!(0), dec!(10)]
        );
        assert_eq!(
            allocate(dec!(10), &[dec!(0)], 0),
            Err(AllocationError::NoWeight(dec!(10)))
        );
    }

    #[test]
    fn negative_totals_and_errors() {
        assert_eq!(
            allocate(dec!(-1.00), &[dec!(1), dec!(1), dec!(1)], 2).unwrap(),
            vec![dec!(-0.34), dec!(-0.33), dec!(-0.33)]
        );
        assert_eq!(
            allocate(dec!(1.005), &[dec!(1)], 2),
            Err(AllocationError::TotalTooFine {
                total: dec!(1.005),
                dp: 2
            })
        );
        assert_eq!(
            allocate(dec!(1), &[dec!(-1)], 2),
            Err(AllocationError::NegativeWeight(dec!(-1)))
        );
    }
}
