//! [`KeyRateStep`] ⇄ `key_rate_steps` row (the rate in percent, exact) and [`PenaltyWindow`] ⇄
//! `penalty_windows` row (the effect as JSON of the domain's `WindowEffect` serde form, pinned
//! by a golden test; the legal act as the adapter's own tag).

use billing_core::keyrate::{KeyRateStep, LegalAct, PenaltyWindow, Rate};
use billing_core::ports::RepoError;

use super::Row;
use super::billing::{day_text, to_json};
use crate::CorruptRow;
use crate::entity::{Exact, key_rate_step, penalty_window};

/// The row of a key-rate step.
pub fn step_to_row(s: &KeyRateStep) -> key_rate_step::ActiveModel {
    use sea_orm::ActiveValue::Set;
    key_rate_step::ActiveModel {
        from_day: Set(day_text(s.from)),
        rate: Set(Exact::of(s.rate.percent())),
    }
}

/// The key-rate step a row stores.
pub fn step_from_row(m: key_rate_step::Model) -> Result<KeyRateStep, CorruptRow> {
    let row = Row::new("key_rate_steps", m.from_day.clone());
    Ok(KeyRateStep {
        from: row.day("from_day", &m.from_day)?,
        rate: row.parse("rate", Rate::from_percent(row.decimal("rate", &m.rate)?))?,
    })
}

/// The tag of a legal act: `pp424`, `pp497`, `pp474` or `other:<number>`.
pub fn act_tag(act: LegalAct) -> String {
    match act {
        LegalAct::Pp424 => "pp424".to_owned(),
        LegalAct::Pp497 => "pp497".to_owned(),
        LegalAct::Pp474 => "pp474".to_owned(),
        LegalAct::Other(n) => format!("other:{n}"),
    }
}

fn act_from_tag(tag: &str) -> Option<LegalAct> {
    Some(match tag {
        "pp424" => LegalAct::Pp424,
        "pp497" => LegalAct::Pp497,
        "pp474" => LegalAct::Pp474,
        _ => LegalAct::Other(tag.strip_prefix("other:")?.parse().ok()?),
    })
}

/// The row of a penalty window; its id is left to the database (windows keep their order).
pub fn window_to_row(w: &PenaltyWindow) -> Result<penalty_window::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    Ok(penalty_window::ActiveModel {
        id: NotSet,
        from_day: Set(day_text(w.from)),
        to_day: Set(day_text(w.to)),
        effect: Set(to_json("window effect", &w.effect)?),
        basis: Set(act_tag(w.basis)),
    })
}

/// The penalty window a row stores.
pub fn window_from_row(m: penalty_window::Model) -> Result<PenaltyWindow, CorruptRow> {
    let row = Row::new("penalty_windows", format!("id {}", m.id));
    Ok(PenaltyWindow {
        from: row.day("from_day", &m.from_day)?,
        to: row.day("to_day", &m.to_day)?,
        effect: row.json("effect", &m.effect)?,
        basis: act_from_tag(&m.basis)
            .ok_or_else(|| row.bad("basis", format!("unknown tag '{}'", m.basis)))?,
    })
}

#[cfg(test)]
mod tests {
    use billing_core::keyrate::WindowEffect;
    use time::macros::date;

    use super::*;

    #[test]
    fn the_window_effect_json_is_pinned() {
        let row = Row::new("penalty_windows", "1");
        for (effect, json) in [
            (WindowEffect::NoAccrual, r#""no_accrual""#),
            (
                WindowEffect::NoAccrualOnDebtsArisenBefore(date!(2022 - 04 - 01)),
                r#"{"no_accrual_on_debts_arisen_before":[2022,91]}"#,
            ),
            (
                WindowEffect::RateCap(Rate::from_basis_points(950)),
                r#"{"rate_cap":950}"#,
            ),
        ] {
            assert_eq!(to_json("effect", &effect).unwrap(), json);
            assert_eq!(row.json("effect", json), Ok(effect));
        }
    }

    #[test]
    fn acts_round_trip_through_their_tags() {
        for act in [
            LegalAct::Pp424,
            LegalAct::Pp497,
            LegalAct::Pp474,
            LegalAct::Other(17),
        ] {
            assert_eq!(act_from_tag(&act_tag(act)), Some(act));
        }
        assert_eq!(act_from_tag("other:x"), None);
        assert_eq!(act_from_tag("pp1"), None);
    }

    #[test]
    fn a_rate_that_is_not_whole_basis_points_is_corrupt() {
        let m = key_rate_step::Model {
            from_day: "2025-01-01".into(),
            rate: Exact("9.505".into()),
        };
        assert!(step_from_row(m).unwrap_err().to_string().contains("rate"));
        let m = key_rate_step::Model {
            from_day: "2025-01-01".into(),
            rate: Exact("9.50".into()),
        };
        assert_eq!(
            step_from_row(m).map(|s| s.rate),
            Ok(Rate::from_basis_points(950))
        );
    }
}
