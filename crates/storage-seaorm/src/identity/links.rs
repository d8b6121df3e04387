//! [`LinkRepository`] on `linked_accounts`.

use identity_core::domain::{AccountRef, SubscriberId};
use identity_core::model::LinkedAccount;
use identity_core::ports::{LinkRepository, PortError, WriteError};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::link::{from_row, to_row};
use crate::entity::linked_account::{Column, Entity};
use crate::error::{port, write};
use crate::storage::Storage;

impl Storage {
    /// Serialises changes to one cabinet's links: on PostgreSQL by locking the cabinet's row
    /// (`FOR NO KEY UPDATE`, which still lets other tables reference it); on SQLite the write
    /// transaction already excludes every other writer.
    async fn lock_cabinet(&self, tx: &DatabaseTransaction, id: SubscriberId) -> Result<(), DbErr> {
        self.lock_rows(
            tx,
            "SELECT id FROM subscribers WHERE id = $1 FOR NO KEY UPDATE",
            [id.to_string().into()],
        )
        .await
        .map(drop)
    }
}

fn of_account(subscriber: SubscriberId, account: &AccountRef) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::SubscriberId.eq(subscriber.to_string()))
        .add(Column::Supplier.eq(account.supplier.as_str()))
        .add(Column::Number.eq(account.number.as_str()))
}

#[async_trait::async_trait]
impl LinkRepository for Storage {
    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<LinkedAccount>, PortError> {
        let rows = Entity::find()
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .order_by_asc(Column::Seq)
            .all(self.db())
            .await
            .map_err(|e| port("list links", e))?;
        Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
    }

    async fn insert(
        &self,
        subscriber: SubscriberId,
        link: &LinkedAccount,
    ) -> Result<(), WriteError> {
        let row = to_row(subscriber, link)?;
        let fail = |e| write("insert link", e);
        let tx = self.begin_write().await.map_err(fail)?;
        self.lock_cabinet(&tx, subscriber).await.map_err(fail)?;
        if link.active {
            Entity::update_many()
                .col_expr(Column::Active, Expr::value(false))
                .filter(Column::SubscriberId.eq(subscriber.to_string()))
                .exec(&tx)
                .await
                .map_err(fail)?;
        }
        Entity::insert(row)
            .exec_without_returning(&tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)
    }

    async fn remove(
        &self,
        subscriber: SubscriberId,
        account: &AccountRef,
    ) -> Result<bool, PortError> {
        let done = Entity::delete_many()
            .filter(of_account(subscriber, account))
            .exec(self.db())
            .await
            .map_err(|e| port("remove link", e))?;
        Ok(done.rows_affected > 0)
    }

    async fn set_active(
        &self,
        subscriber: SubscriberId,
        account: &AccountRef,
    ) -> Result<bool, PortError> {
        let fail = |e| port("set active link", e);
        let tx = self.begin_write().await.map_err(fail)?;
        self.lock_cabinet(&tx, subscriber).await.map_err(fail)?;
        let linked = Entity::find()
            .filter(of_account(subscriber, account))
            .one(&tx)
            .await
            .map_err(fail)?
            .is_some();
        if !linked {
            tx.rollback().await.map_err(fail)?;
            return Ok(false);
        }
        // Two statements, not one CASE: the partial unique index on the active link is checked
        // row by row, so the old active link must be cleared before the new one is set.
        Entity::update_many()
            .col_expr(Column::Active, Expr::value(false))
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .exec(&tx)
            .await
            .map_err(fail)?;
        Entity::update_many()
            .col_expr(Column::Active, Expr::value(true))
            .filter(of_account(subscriber, account))
            .exec(&tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(true)
    }
}
