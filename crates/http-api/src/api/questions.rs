//! Questions to the supplier (seeds 000, 002): a subscriber asks about one of their ЛС (or in
//! general) and reads the answers; a Support operator lists the open questions page by page
//! and answers each once — the subscriber is notified by email (or SMS).

use identity_core::UserMessage;
use identity_core::domain::{QuestionId, QuestionText, SupplierId};
use identity_core::model::{Question, QuestionCursor, QuestionTopic};
use identity_core::service::{
    AnswerQuestionError, AskQuestion, AskQuestionError, MyQuestionsError, OpenQuestionsError,
    OpenQuestionsQuery, QuestionError,
};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use super::accounts::linked_account;
use super::registration::invalid;
use crate::AppState;
use crate::auth::{OperatorAuth, SubscriberAuth};
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// Questions and answers.
pub struct QuestionsApi;

/// What a question is about.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum TopicDto {
    /// Показания.
    Readings,
    /// Начисления.
    Charges,
    /// Оплата.
    Payments,
    /// Документы.
    Documents,
    /// Другое.
    Other,
}

impl From<TopicDto> for QuestionTopic {
    fn from(t: TopicDto) -> Self {
        match t {
            TopicDto::Readings => Self::Readings,
            TopicDto::Charges => Self::Charges,
            TopicDto::Payments => Self::Payments,
            TopicDto::Documents => Self::Documents,
            TopicDto::Other => Self::Other,
        }
    }
}

impl From<QuestionTopic> for TopicDto {
    fn from(t: QuestionTopic) -> Self {
        match t {
            QuestionTopic::Readings => Self::Readings,
            QuestionTopic::Charges => Self::Charges,
            QuestionTopic::Payments => Self::Payments,
            QuestionTopic::Documents => Self::Documents,
            QuestionTopic::Other => Self::Other,
        }
    }
}

/// A question.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AskBody {
    /// The ЛС it is about (`account_id` of a linked ЛС); absent for a general question.
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub account_id: Option<u64>,
    /// The topic.
    pub topic: TopicDto,
    /// The question (1–4000 characters).
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub text: String,
}

/// An answer.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AnswerBody {
    /// The answer (1–4000 characters).
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub text: String,
}

/// The ЛС a question is about.
#[derive(Object, Debug)]
pub struct QuestionAccountDto {
    /// The supplier.
    pub supplier_id: String,
    /// The ЛС number.
    pub number: String,
}

/// The supplier's answer.
#[derive(Object, Debug)]
pub struct AnswerDto {
    /// The text.
    pub text: String,
    /// When answered.
    pub at: OffsetDateTime,
}

/// A question and its answer, if any.
#[derive(Object, Debug)]
pub struct QuestionDto {
    /// Its id.
    pub question_id: String,
    /// The ЛС it is about.
    #[oai(nullable)]
    pub account: Option<QuestionAccountDto>,
    /// The topic.
    pub topic: TopicDto,
    /// The topic in Russian.
    pub topic_name: String,
    /// The question.
    pub text: String,
    /// When asked.
    pub asked_at: OffsetDateTime,
    /// The answer; absent while open.
    #[oai(nullable)]
    pub answer: Option<AnswerDto>,
}

/// A page of open questions, oldest first.
#[derive(Object, Debug)]
pub struct QuestionPageDto {
    /// The questions.
    pub questions: Vec<QuestionDto>,
    /// Pass as `after` for the next page; absent on the last one.
    #[oai(nullable)]
    pub next: Option<String>,
}

/// The question was recorded.
#[derive(ApiResponse)]
pub enum Asked {
    /// Recorded.
    #[oai(status = 201)]
    Created(Json<QuestionDto>),
}

fn dto(q: Question) -> QuestionDto {
    QuestionDto {
        question_id: q.id.to_string(),
        account: q.account.map(|a| QuestionAccountDto {
            supplier_id: a.supplier.to_string(),
            number: a.number.to_string(),
        }),
        topic: q.topic.into(),
        topic_name: q.topic.label().to_owned(),
        text: q.text.to_string(),
        asked_at: q.asked_at,
        answer: q.answer.map(|a| AnswerDto {
            text: a.text.to_string(),
            at: a.at,
        }),
    }
}

fn said(kind: ProblemType, e: &dyn UserMessage) -> Problem {
    Problem::with_detail(kind, e.user_message())
}

fn ask_problem(e: &AskQuestionError) -> Problem {
    match e {
        AskQuestionError::NotLinked => said(ProblemType::NotLinked, e),
        AskQuestionError::TooManyQuestions { retry_after } => Problem::rate_limited(
            e.user_message(),
            u64::try_from(retry_after.whole_seconds()).unwrap_or(1),
        ),
        AskQuestionError::Unexpected(p) => Problem::unavailable("ask a question", p),
    }
}

fn question_problem(e: &QuestionError) -> Problem {
    match e {
        QuestionError::NotFound => said(ProblemType::NotFound, e),
        QuestionError::Forbidden(_) => said(ProblemType::Forbidden, e),
        QuestionError::Unexpected(p) => Problem::unavailable("read a question", p),
    }
}

fn mine_problem(e: &MyQuestionsError) -> Problem {
    match e {
        MyQuestionsError::Unexpected(p) => Problem::unavailable("list questions", p),
    }
}

fn open_problem(e: &OpenQuestionsError) -> Problem {
    match e {
        OpenQuestionsError::Forbidden(_) => said(ProblemType::Forbidden, e),
        OpenQuestionsError::Unexpected(p) => Problem::unavailable("list open questions", p),
    }
}

fn answer_problem(e: &AnswerQuestionError) -> Problem {
    match e {
        AnswerQuestionError::NotFound => said(ProblemType::NotFound, e),
        AnswerQuestionError::AlreadyAnswered => said(ProblemType::AlreadyAnswered, e),
        AnswerQuestionError::Forbidden(_) => said(ProblemType::Forbidden, e),
        AnswerQuestionError::Unexpected(p) => Problem::unavailable("answer a question", p),
    }
}

fn question_id(text: &str) -> Result<QuestionId, Problem> {
    QuestionId::parse(text).map_err(|_| Problem::new(ProblemType::NotFound))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Questions")]
impl QuestionsApi {
    /// Ask the supplier a question, about a linked ЛС or in general (at most 10 an hour).
    #[oai(path = "/questions", method = "post", operation_id = "askQuestion")]
    async fn ask(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        body: Json<AskBody>,
    ) -> Result<Asked, ProblemResponse> {
        let body = body.0;
        let text = QuestionText::parse(&body.text).map_err(|e| invalid("text", &e))?;
        let account = match body.account_id {
            Some(id) => Some(linked_account(&state, &auth, id).await?.0.account),
            None => None,
        };
        let asked = state
            .questions
            .ask_question(
                auth.auth(),
                AskQuestion {
                    account,
                    topic: body.topic.into(),
                    text,
                },
            )
            .await
            .map_err(|e| ask_problem(&e))?;
        Ok(Asked::Created(Json(dto(asked))))
    }

    /// The cabinet's questions with their answers, newest first.
    #[oai(path = "/questions", method = "get", operation_id = "myQuestions")]
    async fn mine(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        /// How many (1–100, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<QuestionDto>>, ProblemResponse> {
        let list = state
            .questions
            .my_questions(auth.auth(), limit.0.unwrap_or(50))
            .await
            .map_err(|e| mine_problem(&e))?;
        Ok(Json(list.into_iter().map(dto).collect()))
    }

    /// One of the cabinet's questions (another cabinet's answers 404).
    #[oai(
        path = "/questions/:question_id",
        method = "get",
        operation_id = "myQuestion"
    )]
    async fn one(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        question_id: Path<String>,
    ) -> Result<Json<QuestionDto>, ProblemResponse> {
        let id = self::question_id(&question_id.0)?;
        let q = state
            .questions
            .question(auth.auth(), id)
            .await
            .map_err(|e| question_problem(&e))?;
        Ok(Json(dto(q)))
    }

    /// Open questions, oldest first, a page at a time — Support.
    #[oai(
        path = "/operator/questions",
        method = "get",
        operation_id = "operatorOpenQuestions"
    )]
    async fn open(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        /// Only questions about this supplier's ЛС.
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        supplier_id: Query<Option<u64>>,
        /// The `next` of the previous page.
        #[oai(validator(max_length = 128))]
        after: Query<Option<String>>,
        /// How many (1–100, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<QuestionPageDto>, ProblemResponse> {
        let supplier = supplier_id
            .0
            .map(|s| SupplierId::parse(&s.to_string()))
            .transpose()
            .map_err(|e| invalid("supplier_id", &e))?;
        let after = after
            .0
            .as_deref()
            .map(QuestionCursor::parse)
            .transpose()
            .map_err(|_| {
                let mut p = Problem::new(ProblemType::InvalidRequest);
                p.reason = Some("invalid parameter `after`: use the `next` of a page".to_owned());
                p
            })?;
        let page = state
            .questions
            .open_questions(
                auth.principal(),
                &OpenQuestionsQuery {
                    supplier,
                    after,
                    limit: limit.0.unwrap_or(50),
                },
            )
            .await
            .map_err(|e| open_problem(&e))?;
        Ok(Json(QuestionPageDto {
            questions: page.questions.into_iter().map(dto).collect(),
            next: page.next.map(|c| c.to_string()),
        }))
    }

    /// Answer a question, once — Support. The subscriber is notified.
    #[oai(
        path = "/operator/questions/:question_id/answer",
        method = "post",
        operation_id = "operatorAnswerQuestion"
    )]
    async fn answer(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        question_id: Path<String>,
        body: Json<AnswerBody>,
    ) -> Result<Json<QuestionDto>, ProblemResponse> {
        let id = self::question_id(&question_id.0)?;
        let text = QuestionText::parse(&body.0.text).map_err(|e| invalid("text", &e))?;
        let q = state
            .questions
            .answer_question(auth.principal(), id, text)
            .await
            .map_err(|e| answer_problem(&e))?;
        Ok(Json(dto(q)))
    }
}
