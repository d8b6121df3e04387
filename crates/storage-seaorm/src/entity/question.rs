//! `questions`: one row per subscriber's question, with the operator's answer once given (the
//! three `answer_*`/`answered_*` columns are set together, once).

use sea_orm::entity::prelude::*;

/// A row of `questions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "questions")]
pub struct Model {
    /// Question id, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Who asked (references `subscribers`).
    pub subscriber_id: String,
    /// Supplier of the ЛС the question is about (set together with `account_number`).
    pub account_supplier: Option<String>,
    /// Number of that ЛС; both NULL for a general question.
    pub account_number: Option<String>,
    /// Topic tag, for example `readings`.
    pub topic: String,
    /// The question's text.
    pub text: String,
    /// When it was asked.
    pub asked_at: i64,
    /// The answer's text; NULL while open.
    pub answer_text: Option<String>,
    /// Id of the operator who answered, hex.
    pub answered_by: Option<String>,
    /// When it was answered; NULL while open (the condition of the one UPDATE that answers).
    pub answered_at: Option<i64>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
