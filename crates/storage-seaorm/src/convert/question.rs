//! [`Question`] ⇄ `questions` row. The topic is stored as [`QuestionTopic::tag`] (pinned by
//! a test below, so a renamed tag fails here instead of orphaning stored rows); the ЛС as two
//! columns, both set or both NULL; the answer as three columns, all set or all NULL.

use identity_core::domain::{OperatorId, QuestionId, QuestionText, SubscriberId};
use identity_core::model::{Answer, Question, QuestionTopic};
use identity_core::ports::PortError;

use super::{Row, to_nanos};
use crate::entity::question::Model;

const TABLE: &str = "questions";

/// The row that stores `q`.
pub fn to_row(q: &Question) -> Result<Model, PortError> {
    Ok(Model {
        id: q.id.to_string(),
        subscriber_id: q.subscriber.to_string(),
        account_supplier: q.account.as_ref().map(|a| a.supplier.as_str().to_owned()),
        account_number: q.account.as_ref().map(|a| a.number.as_str().to_owned()),
        topic: q.topic.tag().to_owned(),
        text: q.text.as_str().to_owned(),
        asked_at: to_nanos(q.asked_at)?,
        answer_text: q.answer.as_ref().map(|a| a.text.as_str().to_owned()),
        answered_by: q.answer.as_ref().map(|a| a.operator.to_string()),
        answered_at: q.answer.as_ref().map(|a| to_nanos(a.at)).transpose()?,
    })
}

/// The question a row stores.
pub fn from_row(m: Model) -> Result<Question, crate::CorruptRow> {
    let row = Row::new(TABLE, m.id.clone());
    let account = match (&m.account_supplier, &m.account_number) {
        (Some(supplier), Some(number)) => Some(row.account(supplier, number)?),
        (None, None) => None,
        _ => {
            return Err(row.bad(
                "account_supplier/account_number",
                "one is set without the other",
            ));
        }
    };
    let answer = match (m.answer_text, m.answered_by, m.answered_at) {
        (Some(text), Some(operator), Some(at)) => Some(Answer {
            text: row.parse("answer_text", QuestionText::parse(&text))?,
            operator: row.parse("answered_by", OperatorId::parse(&operator))?,
            at: row.time("answered_at", at)?,
        }),
        (None, None, None) => None,
        _ => {
            return Err(row.bad(
                "answer_text/answered_by/answered_at",
                "an answer is partly stored",
            ));
        }
    };
    Ok(Question {
        id: row.parse("id", QuestionId::parse(&m.id))?,
        subscriber: row.parse("subscriber_id", SubscriberId::parse(&m.subscriber_id))?,
        account,
        topic: QuestionTopic::from_tag(&m.topic)
            .ok_or_else(|| row.bad("topic", format!("unknown tag '{}'", m.topic)))?,
        text: row.parse("text", QuestionText::parse(&m.text))?,
        asked_at: row.time("asked_at", m.asked_at)?,
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored topic tags: changing one would orphan every stored question with it.
    #[test]
    fn topic_tags_are_pinned() {
        let tags: Vec<&str> = QuestionTopic::ALL
            .into_iter()
            .map(QuestionTopic::tag)
            .collect();
        assert_eq!(
            tags,
            ["readings", "charges", "payments", "documents", "other"]
        );
        for topic in QuestionTopic::ALL {
            assert_eq!(QuestionTopic::from_tag(topic.tag()), Some(topic));
        }
    }
}
