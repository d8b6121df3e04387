//! [`KeyRateSource`] on `key_rate_steps` and `penalty_windows`: operator data, seeded by the
//! migration with the history and windows shipped with `billing-core` and replaced by
//! [`Storage::set_key_rates`] and [`Storage::set_penalty_rules`]. What is read back is checked
//! again by the domain's constructors; a history that no longer satisfies them (empty, out of
//! order, overlapping rate windows) is corrupt data.

use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
use billing_core::ports::{KeyRateSource, RepoError};
use sea_orm::{EntityTrait, QueryOrder};

use crate::convert::keyrate as convert;
use crate::entity::{key_rate_step, penalty_window};
use crate::error::repo;
use crate::storage::Storage;

#[async_trait::async_trait]
impl KeyRateSource for Storage {
    async fn key_rates(&self) -> Result<KeyRateHistory, RepoError> {
        let rows = key_rate_step::Entity::find()
            .order_by_asc(key_rate_step::Column::FromDay)
            .all(self.db())
            .await
            .map_err(|e| repo("read key rates", e))?;
        let steps = rows
            .into_iter()
            .map(convert::step_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        KeyRateHistory::new(steps)
            .map_err(|e| RepoError::Corrupt(format!("corrupt rows in key_rate_steps: {e}")))
    }

    async fn penalty_rules(&self) -> Result<PenaltyRules, RepoError> {
        let rows = penalty_window::Entity::find()
            .order_by_asc(penalty_window::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| repo("read penalty windows", e))?;
        let windows = rows
            .into_iter()
            .map(convert::window_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        PenaltyRules::new(windows)
            .map_err(|e| RepoError::Corrupt(format!("corrupt rows in penalty_windows: {e}")))
    }
}
