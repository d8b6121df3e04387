//! [`AutopayRepository`] on `autopay_settings`.
//!
//! - **`put` is a compare-and-set on `version`, one statement each way** — version 0 (none
//!   stored yet) is a plain INSERT of version 1, never preceded by a read: when a row exists
//!   already, or a concurrent first write won, the primary key (`account_id`, `payer`) refuses
//!   it and the violation is `RepoError::Conflict` with nothing written. Version *n* is `UPDATE
//!   … SET …, version = n + 1 WHERE account_id = $a AND payer = $p AND version = n`; matching
//!   no row (the version moved on, or the settings were deleted) is `Conflict`, nothing
//!   written. Of concurrent puts from one version exactly one wins: on PostgreSQL a racing
//!   UPDATE waits for the winner's row lock and re-checks `version`, a racing INSERT waits for
//!   the winner's commit and violates the key; on SQLite the writers take turns.
//! - An INSERT naming an ЛС that does not exist violates the foreign key: `RepoError::NotFound`.
//! - **`delete`** — `DELETE … WHERE account_id AND payer`; whether a row went.
//!
//! A payer reference longer than the column's 64 characters is refused before any write
//! (`convert::autopay`).

use billing_core::autopay::{AutopayRepository, AutopaySettings};
use billing_core::ids::AccountId;
use billing_core::ports::RepoError;
use sea_orm::{ActiveModelTrait, ActiveValue, ColumnTrait, DbErr, EntityTrait, QueryFilter};

use crate::convert::autopay::{from_row, to_row};
use crate::convert::billing::to_db_id;
use crate::entity::autopay_setting::{ActiveModel, Column, Entity};
use crate::error::{is_unique_violation, repo, repo_write};
use crate::storage::Storage;

/// A failed `put`: the primary key refusing a first write means settings are stored already
/// (`Conflict`); a missing ЛС is `NotFound` (see [`repo_write`]).
fn put_failed(e: DbErr) -> RepoError {
    if is_unique_violation(&e) {
        RepoError::Conflict
    } else {
        repo_write("store autopay settings", e)
    }
}

#[async_trait::async_trait]
impl AutopayRepository for Storage {
    async fn get(
        &self,
        account: AccountId,
        payer: &str,
    ) -> Result<Option<AutopaySettings>, RepoError> {
        let row = Entity::find_by_id((to_db_id(account.get())?, payer.to_owned()))
            .one(self.db())
            .await
            .map_err(|e| repo("find autopay settings", e))?;
        Ok(row.map(from_row).transpose()?)
    }

    async fn put(&self, settings: &AutopaySettings) -> Result<AutopaySettings, RepoError> {
        let next = settings.version.checked_add(1).ok_or_else(|| {
            RepoError::Unavailable(format!("autopay version {} overflows", settings.version))
        })?;
        let row = to_row(settings, next)?;
        let (account_id, payer) = (row.account_id, row.payer.clone());
        // Every column `Set` (a model converts to `Unchanged` values, which an UPDATE skips).
        let mut active = ActiveModel::from(row).reset_all();
        if settings.version == 0 {
            Entity::insert(active)
                .exec_without_returning(self.db())
                .await
                .map_err(put_failed)?;
        } else {
            // The key selects the row; only the other columns are set.
            active.account_id = ActiveValue::NotSet;
            active.payer = ActiveValue::NotSet;
            let done = Entity::update_many()
                .set(active)
                .filter(Column::AccountId.eq(account_id))
                .filter(Column::Payer.eq(payer))
                .filter(Column::Version.eq(to_db_id(settings.version)?))
                .exec(self.db())
                .await
                .map_err(put_failed)?;
            if done.rows_affected == 0 {
                return Err(RepoError::Conflict);
            }
        }
        Ok(AutopaySettings {
            version: next,
            ..settings.clone()
        })
    }

    async fn delete(&self, account: AccountId, payer: &str) -> Result<bool, RepoError> {
        let done = Entity::delete_many()
            .filter(Column::AccountId.eq(to_db_id(account.get())?))
            .filter(Column::Payer.eq(payer))
            .exec(self.db())
            .await
            .map_err(|e| repo("delete autopay settings", e))?;
        Ok(done.rows_affected > 0)
    }
}
