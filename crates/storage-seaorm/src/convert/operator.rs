//! [`Operator`] ⇄ `operators` row, [`ApiKeyRecord`] ⇄ `operator_api_keys` row and
//! [`OperatorSessionRecord`] ⇄ `operator_sessions` row. Roles are stored as
//! [`OperatorRole::tag`] (pinned by a test below). A login is stored normalised; one that is not
//! (so `find_by_login` could never find it) is a corrupt row.

use identity_core::domain::{ApiKeyId, OperatorId, OperatorLogin, OperatorSessionId, PersonName};
use identity_core::model::{ApiKeyRecord, Operator, OperatorRole, OperatorSessionRecord};
use identity_core::password::PasswordHash;
use identity_core::ports::PortError;

use super::{Row, to_nanos};
use crate::entity::{operator, operator_api_key, operator_session};

impl Row {
    /// A stored role tag.
    fn role(&self, column: &str, tag: &str) -> Result<OperatorRole, crate::CorruptRow> {
        OperatorRole::from_tag(tag).ok_or_else(|| self.bad(column, format!("unknown tag '{tag}'")))
    }
}

/// The row that stores `o`.
pub fn to_row(o: &Operator) -> Result<operator::Model, PortError> {
    Ok(operator::Model {
        id: o.id.to_string(),
        login: o.login.as_str().to_owned(),
        name: o.name.as_str().to_owned(),
        password_hash: o.password_hash.as_phc().to_owned(),
        role: o.role.tag().to_owned(),
        created_at: to_nanos(o.created_at)?,
        disabled_at: o.disabled_at.map(to_nanos).transpose()?,
    })
}

/// The operator a row stores.
pub fn from_row(m: operator::Model) -> Result<Operator, crate::CorruptRow> {
    let row = Row::new("operators", m.id.clone());
    let login = row.parse("login", OperatorLogin::parse(&m.login))?;
    if login.as_str() != m.login {
        return Err(row.bad("login", "not in its normalised form"));
    }
    Ok(Operator {
        id: row.parse("id", OperatorId::parse(&m.id))?,
        login,
        name: row.parse("name", PersonName::parse(&m.name))?,
        password_hash: PasswordHash::from_phc(m.password_hash),
        role: row.role("role", &m.role)?,
        created_at: row.time("created_at", m.created_at)?,
        disabled_at: row.opt_time("disabled_at", m.disabled_at)?,
    })
}

/// The row that stores `k`.
pub fn key_to_row(k: &ApiKeyRecord) -> Result<operator_api_key::Model, PortError> {
    Ok(operator_api_key::Model {
        id: k.id.to_string(),
        operator_id: k.operator.to_string(),
        name: k.name.clone(),
        key_digest: k.digest.as_bytes().to_vec(),
        role: k.role.tag().to_owned(),
        created_at: to_nanos(k.created_at)?,
        revoked_at: k.revoked_at.map(to_nanos).transpose()?,
    })
}

/// The API key a row stores.
pub fn key_from_row(m: operator_api_key::Model) -> Result<ApiKeyRecord, crate::CorruptRow> {
    let row = Row::new("operator_api_keys", m.id.clone());
    Ok(ApiKeyRecord {
        id: row.parse("id", ApiKeyId::parse(&m.id))?,
        operator: row.parse("operator_id", OperatorId::parse(&m.operator_id))?,
        name: m.name,
        digest: row.digest("key_digest", &m.key_digest)?,
        role: row.role("role", &m.role)?,
        created_at: row.time("created_at", m.created_at)?,
        revoked_at: row.opt_time("revoked_at", m.revoked_at)?,
    })
}

/// The row that stores `s`.
pub fn session_to_row(s: &OperatorSessionRecord) -> Result<operator_session::Model, PortError> {
    Ok(operator_session::Model {
        id: s.id.to_string(),
        operator_id: s.operator.to_string(),
        token_digest: s.token_digest.as_bytes().to_vec(),
        created_at: to_nanos(s.created_at)?,
        last_seen_at: to_nanos(s.last_seen_at)?,
        revoked_at: s.revoked_at.map(to_nanos).transpose()?,
    })
}

/// The operator session a row stores.
pub fn session_from_row(
    m: operator_session::Model,
) -> Result<OperatorSessionRecord, crate::CorruptRow> {
    let row = Row::new("operator_sessions", m.id.clone());
    Ok(OperatorSessionRecord {
        id: row.parse("id", OperatorSessionId::parse(&m.id))?,
        operator: row.parse("operator_id", OperatorId::parse(&m.operator_id))?,
        token_digest: row.digest("token_digest", &m.token_digest)?,
        created_at: row.time("created_at", m.created_at)?,
        last_seen_at: row.time("last_seen_at", m.last_seen_at)?,
        revoked_at: row.opt_time("revoked_at", m.revoked_at)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored role tags: changing one would orphan every stored operator and key with it.
    #[test]
    fn role_tags_are_pinned() {
        let tags: Vec<&str> = OperatorRole::ALL
            .into_iter()
            .map(OperatorRole::tag)
            .collect();
        assert_eq!(tags, ["admin", "billing", "support"]);
        let row = Row::new("operators", "k");
        for role in OperatorRole::ALL {
            assert_eq!(row.role("role", role.tag()), Ok(role));
        }
        assert!(row.role("role", "root").is_err());
    }
}
