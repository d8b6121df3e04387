//! What the cabinet needs to find an ЛС by the proofs a subscriber can show, as inherent
//! methods on [`Storage`]:
//!
//! - **payment-document codes** (`account_codes`): [`Storage::set_payment_code`],
//!   [`Storage::account_by_payment_code`], [`Storage::has_payment_code`]. Only the code's
//!   digest is stored (the caller computes it; the server uses
//!   `SecretDigest::of_token`), one per ЛС; a digest names at most one ЛС (UNIQUE), so a
//!   code issued twice is refused as [`WriteError::Duplicate`] rather than silently
//!   linking the wrong ЛС.
//! - **house search** for the address picker: [`Storage::search_houses`].
//! - **the cabinet's gate**: [`Storage::linked_account`] — an ЛС by id, only if linked to a
//!   given cabinet, in one read; [`Storage::session_with_link`] — a session token's session
//!   and cabinet together with the gate's answer for that cabinet, in one read (what every
//!   account-scoped request asks first).

use billing_core::ids::{AccountId, HouseId, SupplierId};
use billing_core::model::Account;
use identity_core::crypto::SecretDigest;
use identity_core::domain::SubscriberId;
use identity_core::model::{LinkedAccount, SessionRecord, Subscriber};
use identity_core::ports::{PortError, WriteError};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use crate::convert::{Row, to_nanos};
use crate::entity::house;
use crate::error::{port, write};
use crate::storage::Storage;

/// A house found by [`Storage::search_houses`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HouseMatch {
    /// The house.
    pub id: HouseId,
    /// Its postal address as loaded.
    pub address: String,
}

fn id_value(id: u64, what: &str) -> Result<i64, PortError> {
    i64::try_from(id).map_err(|_| PortError::new(format!("{what} {id} is out of range")))
}

/// Lower case with `ё` read as `е`, the way people type addresses.
fn fold(text: &str) -> String {
    text.to_lowercase().replace('ё', "е")
}

impl Storage {
    /// Sets the payment-document code of `account` (replacing its previous code, which stops
    /// matching). [`WriteError::Duplicate`] when another ЛС already has this code;
    /// a port failure naming the foreign key when the ЛС does not exist.
    pub async fn set_payment_code(
        &self,
        account: AccountId,
        digest: &SecretDigest,
        issued_at: OffsetDateTime,
    ) -> Result<(), WriteError> {
        let statement = self.statement(
            "INSERT INTO account_codes (account_id, code_digest, issued_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE \
             SET code_digest = excluded.code_digest, issued_at = excluded.issued_at",
            [
                id_value(account.get(), "account")?.into(),
                digest.as_bytes().to_vec().into(),
                to_nanos(issued_at)?.into(),
            ],
        );
        self.db()
            .execute_raw(statement)
            .await
            .map_err(|e| write("set a payment code", e))?;
        Ok(())
    }

    /// The ЛС whose payment-document code has `digest`, if any.
    pub async fn account_by_payment_code(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<AccountId>, PortError> {
        let statement = self.statement(
            "SELECT account_id FROM account_codes WHERE code_digest = $1",
            [digest.as_bytes().to_vec().into()],
        );
        let fail = |e| port("find a payment code", e);
        let Some(row) = self.db().query_one_raw(statement).await.map_err(fail)? else {
            return Ok(None);
        };
        let id: i64 = row.try_get("", "account_id").map_err(fail)?;
        let id = u64::try_from(id)
            .map_err(|_| Row::new("account_codes", id.to_string()).bad("account_id", "negative"))?;
        Ok(Some(AccountId::new(id)))
    }

    /// Whether `account` has a payment-document code.
    pub async fn has_payment_code(&self, account: AccountId) -> Result<bool, PortError> {
        let statement = self.statement(
            "SELECT 1 AS found FROM account_codes WHERE account_id = $1",
            [id_value(account.get(), "account")?.into()],
        );
        let found = self
            .db()
            .query_one_raw(statement)
            .await
            .map_err(|e| port("look for a payment code", e))?;
        Ok(found.is_some())
    }

    /// Up to `limit` houses of `supplier` whose address contains every word of `query`
    /// (case-insensitive, `ё` = `е`), in address order. A blank query finds nothing.
    ///
    /// The words are matched here rather than in SQL because SQLite's `LOWER` folds ASCII
    /// only: this reads the supplier's `(id, address)` pairs, which is a few milliseconds for
    /// the tens of thousands of houses a supplier has.
    pub async fn search_houses(
        &self,
        supplier: SupplierId,
        query: &str,
        limit: u32,
    ) -> Result<Vec<HouseMatch>, PortError> {
        let words: Vec<String> = fold(query).split_whitespace().map(str::to_owned).collect();
        if words.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String)> = house::Entity::find()
            .select_only()
            .column(house::Column::Id)
            .column(house::Column::Address)
            .filter(house::Column::SupplierId.eq(id_value(supplier.get(), "supplier")?))
            .order_by_asc(house::Column::Address)
            .order_by_asc(house::Column::Id)
            .into_tuple()
            .all(self.db())
            .await
            .map_err(|e| port("search houses", e))?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut found = Vec::new();
        for (id, address) in rows {
            let folded = fold(&address);
            if !words.iter().all(|w| folded.contains(w.as_str())) {
                continue;
            }
            let id = u64::try_from(id)
                .map_err(|_| Row::new("houses", id.to_string()).bad("id", "negative"))?;
            found.push(HouseMatch {
                id: HouseId::new(id),
                address,
            });
            if found.len() == limit {
                break;
            }
        }
        Ok(found)
    }

    /// The ЛС `account` if it is linked to the cabinet `subscriber`: the link and the account,
    /// in one read (`accounts` joined with `linked_accounts` on supplier and number). `None`
    /// when the ЛС does not exist or is not linked to this cabinet — the cabinet's gate to
    /// every account-scoped request, so it answers both cases alike.
    pub async fn linked_account(
        &self,
        subscriber: SubscriberId,
        account: AccountId,
    ) -> Result<Option<(LinkedAccount, Account)>, PortError> {
        use crate::entity::{account as a, linked_account as l};
        let same_number = a::Entity::belongs_to(l::Entity)
            .from(a::Column::Number)
            .to(l::Column::Number)
            .into();
        // Identity names a supplier by the decimal text of billing's id.
        let same_supplier = Expr::col((l::Entity, l::Column::Supplier)).eq(Expr::col((
            a::Entity,
            a::Column::SupplierId,
        ))
        .cast_as("TEXT"));
        let row = a::Entity::find()
            .join(JoinType::InnerJoin, same_number)
            .filter(a::Column::Id.eq(id_value(account.get(), "account")?))
            .filter(l::Column::SubscriberId.eq(subscriber.to_string()))
            .filter(same_supplier)
            // Both sides decoded strictly: a link row that does not decode is an error, not
            // "not linked".
            .select_two_required(l::Entity)
            .one(self.db())
            .await
            .map_err(|e| port("find a linked ЛС", e))?;
        let Some((account, link)) = row else {
            return Ok(None);
        };
        let link = crate::convert::link::from_row(link)?;
        let account = crate::convert::account::from_row(account)?;
        Ok(Some((link, account)))
    }
}

/// What [`Storage::session_with_link`] reads: the session with its cabinet, as
/// [`SessionRepository::find_with_subscriber`](identity_core::ports::SessionRepository::find_with_subscriber)
/// answers it, and the ЛС if it is linked to the session's cabinet, as
/// [`Storage::linked_account`] answers it — or why the link could not be read (a damaged row),
/// kept apart so that the caller judges the session first: a revoked session is refused as
/// such even when its cabinet's link row is damaged.
pub type SessionWithLink = (
    Option<(SessionRecord, Option<Subscriber>)>,
    Result<Option<(LinkedAccount, Account)>, PortError>,
);

impl Storage {
    /// The session stored under `digest` with its cabinet, and the ЛС `account` if it is
    /// linked to that cabinet — one `SELECT` (`sessions` LEFT JOIN `subscribers`, `accounts`
    /// (the one asked about) and `linked_accounts` (the session's cabinet's link to it)),
    /// where [`SessionRepository::find_with_subscriber`](identity_core::ports::SessionRepository::find_with_subscriber)
    /// and [`Storage::linked_account`] would take two. The link is that of the session's
    /// cabinet whatever the session's state: the caller judges the session (expiry,
    /// revocation, a blocked cabinet) before it trusts the link.
    ///
    /// On PostgreSQL the reads asked for together share one query ([`crate::coalesce`]): the
    /// same `SELECT` `LEFT JOIN LATERAL` to `UNNEST` of the digests and accounts asked about.
    pub async fn session_with_link(
        &self,
        digest: &SecretDigest,
        account: AccountId,
    ) -> Result<SessionWithLink, PortError> {
        let account = id_value(account.get(), "account")?;
        let digest = digest.as_bytes().to_vec();
        if self.backend() == crate::storage::Backend::Postgres {
            return self
                .session_links()
                .call((digest, account))
                .await
                .unwrap_or_else(|| {
                    Err(PortError::new(
                        "find a session with its link: the batch of reads was lost",
                    ))
                });
        }
        session_link_alone(self, &(digest, account)).await
    }

    /// The session reads' queue, started on first use (see `Storage::corrections`).
    fn session_links(
        &self,
    ) -> std::sync::Arc<crate::coalesce::Coalescer<SessionAsk, SessionAnswer>> {
        self.session_links.get(SESSION_LIMITS, || {
            let storage = Storage::over(self.db().clone(), self.backend());
            move |batch| {
                let storage = storage.clone();
                async move { read_sessions(&storage, batch).await }
            }
        })
    }
}

/// A session read asked for: the token's digest and the ЛС id.
type SessionAsk = (Vec<u8>, i64);

/// What one session read answers.
type SessionAnswer = Result<SessionWithLink, PortError>;

/// PostgreSQL: the queue of session reads served in batches.
pub(crate) type SessionLinks = crate::coalesce::Queue<SessionAsk, SessionAnswer>;

/// Reads per batch at most, and batches in flight at most.
const SESSION_LIMITS: crate::coalesce::Limits = crate::coalesce::Limits {
    batch: 32,
    in_flight: 3,
};

const READ_SESSION: &str = "find a session with its link";

/// The query of [`Storage::session_with_link`] for the session under `digest` and the ЛС
/// `account` (values, or columns of a batch's input row).
fn session_link_query(digest: Expr, account: Expr) -> sea_orm::sea_query::SelectStatement {
    use crate::entity::{account as a, linked_account as l, session, subscriber};
    use crate::joined::columns;
    use sea_orm::sea_query::{Alias, JoinType as Join, Query};
    let (s, c, la, ac) = (
        Alias::new("s"),
        Alias::new("c"),
        Alias::new("l"),
        Alias::new("a"),
    );
    let mut q = Query::select();
    q.from_as(session::Entity, s.clone());
    columns::<session::Entity>(&mut q, "s");
    columns::<subscriber::Entity>(&mut q, "c");
    columns::<l::Entity>(&mut q, "l");
    columns::<a::Entity>(&mut q, "a");
    q.join_as(
        Join::LeftJoin,
        subscriber::Entity,
        c.clone(),
        Expr::col((c, subscriber::Column::Id)).equals((s.clone(), session::Column::SubscriberId)),
    );
    q.join_as(
        Join::LeftJoin,
        a::Entity,
        ac.clone(),
        Expr::col((ac.clone(), a::Column::Id)).eq(account),
    );
    // Identity names a supplier by the decimal text of billing's id.
    q.join_as(
        Join::LeftJoin,
        l::Entity,
        la.clone(),
        Expr::col((la.clone(), l::Column::SubscriberId))
            .equals((s.clone(), session::Column::SubscriberId))
            .and(Expr::col((la.clone(), l::Column::Number)).equals((ac.clone(), a::Column::Number)))
            .and(
                Expr::col((la, l::Column::Supplier))
                    .eq(Expr::col((ac, a::Column::SupplierId)).cast_as("TEXT")),
            ),
    );
    q.and_where(Expr::col((s, session::Column::TokenDigest)).eq(digest));
    q
}

/// The answer in `row` (selected by [`session_link_query`]); no session when the session side
/// is absent.
fn session_link_of(row: &sea_orm::QueryResult) -> SessionAnswer {
    use crate::entity::{account as a, linked_account as l, session, subscriber};
    use crate::joined::optional;
    let fail = |e| port(READ_SESSION, e);
    let Some(record) = optional::<session::Model>(row, "s").map_err(fail)? else {
        return Ok((None, Ok(None)));
    };
    let cabinet = optional::<subscriber::Model>(row, "c")
        .map_err(fail)?
        .map(crate::convert::subscriber::from_row)
        .transpose()?;
    let link = (|| {
        let Some(link) = optional::<l::Model>(row, "l").map_err(fail)? else {
            return Ok(None);
        };
        let account = optional::<a::Model>(row, "a")
            .map_err(fail)?
            .ok_or_else(|| PortError::new("a link joined without its account"))?;
        Ok(Some((
            crate::convert::link::from_row(link)?,
            crate::convert::account::from_row(account)?,
        )))
    })();
    Ok((
        Some((crate::convert::session::from_row(record)?, cabinet)),
        link,
    ))
}

/// One session read as a query of its own.
async fn session_link_alone(storage: &Storage, (digest, account): &SessionAsk) -> SessionAnswer {
    let q = session_link_query(Expr::val(digest.clone()), Expr::val(*account));
    let row = storage
        .db()
        .query_one(&q)
        .await
        .map_err(|e| port(READ_SESSION, e))?;
    match row {
        Some(row) => session_link_of(&row),
        None => Ok((None, Ok(None))),
    }
}

/// Serves one batch of session reads: together in one query, or each alone (a read changes
/// nothing, so a failed shared query is simply read again call by call).
async fn read_sessions(storage: &Storage, batch: Vec<SessionAsk>) -> (Vec<SessionAnswer>, bool) {
    use crate::coalesce::{BatchFailed, together_or_alone};
    let together = async {
        sessions_together(storage, &batch)
            .await
            .map_err(|_| BatchFailed::Refused)
    };
    together_or_alone(
        &batch,
        together,
        |e| Err(PortError::new(format!("{READ_SESSION}: {e}"))),
        |ask| session_link_alone(storage, ask),
    )
    .await
}

/// PostgreSQL: the session reads of `asked` in one query — [`session_link_query`] `LEFT JOIN
/// LATERAL` to `UNNEST` of the digests and accounts, one row per pair in their order (all NULL
/// for an unknown token).
async fn sessions_together(
    storage: &Storage,
    asked: &[SessionAsk],
) -> Result<Vec<SessionAnswer>, PortError> {
    use sea_orm::sea_query::Alias;
    let g = Alias::new("g");
    let q = session_link_query(
        Expr::col((g.clone(), Alias::new("digest"))),
        Expr::col((g, Alias::new("account"))),
    );
    let digests: Vec<Vec<u8>> = asked.iter().map(|(d, _)| d.clone()).collect();
    let accounts: Vec<i64> = asked.iter().map(|(_, a)| *a).collect();
    let input = [
        ("digest", "bytea", digests.into()),
        ("account", "int8", accounts.into()),
    ];
    let rows = crate::coalesce::for_each_input_row(storage, &q, input, asked.len())
        .await
        .map_err(|e| PortError::new(format!("{READ_SESSION}: {e}")))?;
    Ok(rows.iter().map(session_link_of).collect())
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn fold_lowercases_cyrillic_and_reads_yo_as_ye() {
        assert_eq!(fold("ул. Семёновская, Д. 5"), "ул. семеновская, д. 5");
    }
}
