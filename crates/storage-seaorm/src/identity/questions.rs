//! [`QuestionRepository`] on `questions`.
//!
//! - `answer` is ONE conditional UPDATE, `UPDATE questions SET answer_text = $1, answered_by =
//!   $2, answered_at = $3 WHERE id = $4 AND answered_at IS NULL`: of racing answers exactly one
//!   matches the row (on PostgreSQL the others wait for the winner's row lock and then re-check
//!   `answered_at`; SQLite runs one writer at a time) and the others are told `false`.
//! - `list_open` is keyset pagination on (`asked_at`, `id`): `WHERE answered_at IS NULL [AND
//!   account_supplier = $s] [AND (asked_at, id) > ($at, $id)] ORDER BY asked_at, id LIMIT $n`,
//!   served by the partial indexes `questions_open` and `questions_open_by_supplier`. Ids are
//!   fixed-length lowercase hex, so their text order is the order of `QuestionId`.

use identity_core::domain::{QuestionId, SubscriberId, SupplierId};
use identity_core::model::{Answer, Question, QuestionCursor};
use identity_core::ports::{PortError, QuestionRepository, WriteError};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::question::{from_row, to_row};
use crate::convert::to_nanos;
use crate::entity::question::{ActiveModel, Column, Entity};
use crate::error::{port, write};
use crate::storage::Storage;

#[async_trait::async_trait]
impl QuestionRepository for Storage {
    async fn insert(&self, question: &Question) -> Result<(), WriteError> {
        let row: ActiveModel = to_row(question)?.into();
        Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| write("insert question", e))?;
        Ok(())
    }

    async fn get(&self, id: QuestionId) -> Result<Option<Question>, PortError> {
        let row = Entity::find_by_id(id.to_string())
            .one(self.db())
            .await
            .map_err(|e| port("get question", e))?;
        Ok(row.map(from_row).transpose()?)
    }

    async fn list_by_subscriber(
        &self,
        subscriber: SubscriberId,
        limit: u32,
    ) -> Result<Vec<Question>, PortError> {
        let rows = Entity::find()
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .order_by_desc(Column::AskedAt)
            .order_by_desc(Column::Id)
            .limit(u64::from(limit))
            .all(self.db())
            .await
            .map_err(|e| port("list a subscriber's questions", e))?;
        Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
    }

    async fn list_open(
        &self,
        supplier: Option<SupplierId>,
        after: Option<QuestionCursor>,
        limit: u32,
    ) -> Result<Vec<Question>, PortError> {
        let mut query = Entity::find().filter(Column::AnsweredAt.is_null());
        if let Some(supplier) = supplier {
            query = query.filter(Column::AccountSupplier.eq(supplier.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(
                Expr::tuple([Expr::col(Column::AskedAt), Expr::col(Column::Id)]).gt(Expr::tuple([
                    Expr::val(to_nanos(after.asked_at)?),
                    Expr::val(after.id.to_string()),
                ])),
            );
        }
        let rows = query
            .order_by_asc(Column::AskedAt)
            .order_by_asc(Column::Id)
            .limit(u64::from(limit))
            .all(self.db())
            .await
            .map_err(|e| port("list open questions", e))?;
        Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
    }

    async fn answer(&self, id: QuestionId, answer: &Answer) -> Result<bool, PortError> {
        let done = Entity::update_many()
            .col_expr(Column::AnswerText, Expr::value(answer.text.as_str()))
            .col_expr(Column::AnsweredBy, Expr::value(answer.operator.to_string()))
            .col_expr(Column::AnsweredAt, Expr::value(to_nanos(answer.at)?))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::AnsweredAt.is_null())
            .exec(self.db())
            .await
            .map_err(|e| port("answer a question", e))?;
        Ok(done.rows_affected == 1)
    }
}
