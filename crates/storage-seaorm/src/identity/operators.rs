//! [`OperatorRepository`] on `operators`, [`ApiKeyRepository`] on `operator_api_keys` and
//! [`OperatorSessionRepository`] on `operator_sessions`.
//!
//! - **Unique logins, key digests and session tokens** — the primary keys and UNIQUE
//!   `operators.login` (stored normalised, so `Ivanova` and `ivanova` collide),
//!   `operator_api_keys.key_digest` and `operator_sessions.token_digest`; a violation is
//!   `WriteError::Duplicate` ([`crate::error`]), so the check and the write are one statement.
//! - **Revocations** are ONE conditional UPDATE each (`… WHERE id = $1 AND revoked_at IS
//!   NULL`): true only for the call that revoked, and the first revocation time is kept.

use identity_core::crypto::SecretDigest;
use identity_core::domain::{ApiKeyId, OperatorId, OperatorLogin, OperatorSessionId};
use identity_core::model::{ApiKeyRecord, Operator, OperatorSessionRecord};
use identity_core::ports::{
    ApiKeyRepository, OperatorRepository, OperatorSessionRepository, PortError, WriteError,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;

use crate::convert::operator::{
    from_row, key_from_row, key_to_row, session_from_row, session_to_row, to_row,
};
use crate::convert::to_nanos;
use crate::entity::{operator, operator_api_key, operator_session};
use crate::error::{port, write};
use crate::storage::Storage;

#[async_trait::async_trait]
impl OperatorRepository for Storage {
    async fn insert(&self, op: &Operator) -> Result<(), WriteError> {
        let row: operator::ActiveModel = to_row(op)?.into();
        operator::Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| write("insert operator", e))?;
        Ok(())
    }

    async fn get(&self, id: OperatorId) -> Result<Option<Operator>, PortError> {
        let row = operator::Entity::find_by_id(id.to_string())
            .one(self.db())
            .await
            .map_err(|e| port("get operator", e))?;
        Ok(row.map(from_row).transpose()?)
    }

    async fn find_by_login(&self, login: &OperatorLogin) -> Result<Option<Operator>, PortError> {
        let row = operator::Entity::find()
            .filter(operator::Column::Login.eq(login.as_str()))
            .one(self.db())
            .await
            .map_err(|e| port("find operator by login", e))?;
        Ok(row.map(from_row).transpose()?)
    }
}

#[async_trait::async_trait]
impl ApiKeyRepository for Storage {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), WriteError> {
        let row: operator_api_key::ActiveModel = key_to_row(key)?.into();
        operator_api_key::Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| write("insert API key", e))?;
        Ok(())
    }

    async fn find_by_key_digest(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<ApiKeyRecord>, PortError> {
        let row = operator_api_key::Entity::find()
            .filter(operator_api_key::Column::KeyDigest.eq(digest.as_bytes().to_vec()))
            .one(self.db())
            .await
            .map_err(|e| port("find API key by digest", e))?;
        Ok(row.map(key_from_row).transpose()?)
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, PortError> {
        let rows = operator_api_key::Entity::find()
            .order_by_asc(operator_api_key::Column::CreatedAt)
            .order_by_asc(operator_api_key::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| port("list API keys", e))?;
        Ok(rows
            .into_iter()
            .map(key_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn revoke(&self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool, PortError> {
        let done = operator_api_key::Entity::update_many()
            .col_expr(
                operator_api_key::Column::RevokedAt,
                Expr::value(to_nanos(at)?),
            )
            .filter(operator_api_key::Column::Id.eq(id.to_string()))
            .filter(operator_api_key::Column::RevokedAt.is_null())
            .exec(self.db())
            .await
            .map_err(|e| port("revoke API key", e))?;
        Ok(done.rows_affected == 1)
    }
}

#[async_trait::async_trait]
impl OperatorSessionRepository for Storage {
    async fn insert(&self, session: &OperatorSessionRecord) -> Result<(), PortError> {
        let row: operator_session::ActiveModel = session_to_row(session)?.into();
        operator_session::Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| port("insert operator session", e))?;
        Ok(())
    }

    async fn find_by_token(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<OperatorSessionRecord>, PortError> {
        let row = operator_session::Entity::find()
            .filter(operator_session::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .one(self.db())
            .await
            .map_err(|e| port("find operator session by token", e))?;
        Ok(row.map(session_from_row).transpose()?)
    }

    async fn touch(&self, id: OperatorSessionId, at: OffsetDateTime) -> Result<(), PortError> {
        operator_session::Entity::update_many()
            .col_expr(
                operator_session::Column::LastSeenAt,
                Expr::value(to_nanos(at)?),
            )
            .filter(operator_session::Column::Id.eq(id.to_string()))
            .exec(self.db())
            .await
            .map_err(|e| port("touch operator session", e))?;
        Ok(())
    }

    async fn revoke(&self, id: OperatorSessionId, at: OffsetDateTime) -> Result<bool, PortError> {
        let done = operator_session::Entity::update_many()
            .col_expr(
                operator_session::Column::RevokedAt,
                Expr::value(to_nanos(at)?),
            )
            .filter(operator_session::Column::Id.eq(id.to_string()))
            .filter(operator_session::Column::RevokedAt.is_null())
            .exec(self.db())
            .await
            .map_err(|e| port("revoke operator session", e))?;
        Ok(done.rows_affected == 1)
    }
}
