//! Questions to the supplier: a subscriber asks about one of their ЛС (or in general) under a
//! topic, and reads their questions and the answers; a support operator works through the
//! queue of open questions (oldest first, optionally one supplier's, keyset-paginated) and
//! answers each once. The subscriber is told of the answer by email (or, without an email, by
//! SMS); the message carries no text of the correspondence, which is read in the cabinet.
//!
//! Asking is limited per subscriber ([`crate::SecurityPolicy::questions`], 10 an hour).
//! Answering is one conditional write of the repository, so of two operators answering one
//! question at once exactly one succeeds and the other gets
//! [`AnswerQuestionError::AlreadyAnswered`]. A subscriber asking for another cabinet's
//! question is told it does not exist.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::{Authenticated, Forbidden, OperatorPrincipal, Ports, port_only_error, reserve_attempt};
use crate::crypto::random_bytes;
use crate::domain::{AccountRef, QuestionId, QuestionText, SupplierId};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{
    Answer, Message, OperatorRole, Question, QuestionCursor, QuestionTopic, ThrottleKey,
};
use crate::policy::SecurityPolicy;
use crate::ports::{
    Clock, EmailSender, LinkRepository, PortError, QuestionRepository, Random, SmsSender,
    SubscriberRepository, ThrottleRepository, WriteError,
};

/// The most questions one listing returns; a larger `limit` is read as this.
pub const MAX_QUESTIONS_PER_PAGE: u32 = 100;

/// The role that works with questions ([`OperatorRole::Admin`] may too).
pub const QUESTIONS_ROLE: OperatorRole = OperatorRole::Support;

/// The adapters a [`QuestionService`] works through.
#[derive(Clone)]
pub struct QuestionPorts {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness for question ids.
    pub random: Arc<dyn Random>,
    /// Cabinets (whom to notify of an answer).
    pub subscribers: Arc<dyn SubscriberRepository>,
    /// Linked ЛС (a question may name only a linked one).
    pub links: Arc<dyn LinkRepository>,
    /// Throttling counters.
    pub throttle: Arc<dyn ThrottleRepository>,
    /// SMS.
    pub sms: Arc<dyn SmsSender>,
    /// Email.
    pub email: Arc<dyn EmailSender>,
    /// Questions.
    pub questions: Arc<dyn QuestionRepository>,
}

impl QuestionPorts {
    /// The shared adapters of `shared` and the question store.
    pub fn new(shared: &Ports, questions: Arc<dyn QuestionRepository>) -> Self {
        Self {
            clock: shared.clock.clone(),
            random: shared.random.clone(),
            subscribers: shared.subscribers.clone(),
            links: shared.links.clone(),
            throttle: shared.throttle.clone(),
            sms: shared.sms.clone(),
            email: shared.email.clone(),
            questions,
        }
    }
}

/// Subscribers' questions and operators' answers. Cheap to share behind an `Arc`.
pub struct QuestionService {
    ports: QuestionPorts,
    policy: SecurityPolicy,
}

/// A question as the subscriber asks it.
#[derive(Debug, Clone)]
pub struct AskQuestion {
    /// The ЛС it is about; it must be linked to the cabinet. `None` for a general question.
    pub account: Option<AccountRef>,
    /// The topic.
    pub topic: QuestionTopic,
    /// The text.
    pub text: QuestionText,
}

/// Which open questions an operator lists ([`QuestionService::open_questions`]).
#[derive(Debug, Clone, Default)]
pub struct OpenQuestionsQuery {
    /// Only questions about an ЛС of this supplier (general questions have no supplier and
    /// are listed only without this filter).
    pub supplier: Option<SupplierId>,
    /// Continue after this position (the `next` of the previous page).
    pub after: Option<QuestionCursor>,
    /// At most this many (1 to [`MAX_QUESTIONS_PER_PAGE`]; 0 is read as 1).
    pub limit: u32,
}

/// One page of the queue of open questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionPage {
    /// The questions, oldest first.
    pub questions: Vec<Question>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<QuestionCursor>,
}

/// Errors of [`QuestionService::ask_question`].
#[derive(Debug, thiserror::Error)]
pub enum AskQuestionError {
    /// The ЛС named is not linked to the cabinet.
    #[error("account not linked")]
    NotLinked,
    /// Too many questions lately; wait `retry_after`.
    #[error("too many questions, retry after {retry_after}")]
    TooManyQuestions {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for AskQuestionError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotLinked => "Этот лицевой счёт не привязан к вашему кабинету.",
            Self::TooManyQuestions { .. } => {
                "Вы задали слишком много вопросов за последний час. Попробуйте позже."
            }
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`QuestionService::question`] and [`QuestionService::question_for_operator`].
#[derive(Debug, thiserror::Error)]
pub enum QuestionError {
    /// No such question (or, for a subscriber, not theirs: deliberately the same).
    #[error("question not found")]
    NotFound,
    /// The operator's role does not cover questions.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for QuestionError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotFound => "Вопрос не найден.",
            Self::Forbidden(e) => e.user_message(),
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`QuestionService::open_questions`].
#[derive(Debug, thiserror::Error)]
pub enum OpenQuestionsError {
    /// The operator's role does not cover questions.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for OpenQuestionsError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Forbidden(e) => e.user_message(),
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Errors of [`QuestionService::answer_question`].
#[derive(Debug, thiserror::Error)]
pub enum AnswerQuestionError {
    /// No such question.
    #[error("question not found")]
    NotFound,
    /// The question already has an answer (perhaps given a moment ago by another operator);
    /// answers are never replaced.
    #[error("question already answered")]
    AlreadyAnswered,
    /// The operator's role does not cover questions.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for AnswerQuestionError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotFound => "Вопрос не найден.",
            Self::AlreadyAnswered => "На этот вопрос уже ответили.",
            Self::Forbidden(e) => e.user_message(),
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

port_only_error!(
    /// Errors of [`QuestionService::my_questions`].
    MyQuestionsError
);

fn page_size(limit: u32) -> u32 {
    limit.clamp(1, MAX_QUESTIONS_PER_PAGE)
}

impl QuestionService {
    /// A service over `ports` with `policy`.
    pub fn new(ports: QuestionPorts, policy: SecurityPolicy) -> Self {
        Self { ports, policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> &SecurityPolicy {
        &self.policy
    }

    fn now(&self) -> OffsetDateTime {
        self.ports.clock.now()
    }

    /// Asks a question, about one of the cabinet's linked ЛС or in general. At most
    /// [`crate::SecurityPolicy::questions`] (10 an hour) per subscriber: the attempt is
    /// reserved after the ЛС is checked and before the question is stored. Returns the
    /// stored question.
    pub async fn ask_question(
        &self,
        auth: &Authenticated,
        request: AskQuestion,
    ) -> Result<Question, AskQuestionError> {
        let now = self.now();
        let subscriber = auth.subscriber();
        if let Some(account) = &request.account {
            let links = self.ports.links.list(subscriber).await?;
            if !links.iter().any(|l| &l.account == account) {
                return Err(AskQuestionError::NotLinked);
            }
        }
        let key = ThrottleKey::question(subscriber);
        if let Err(retry_after) =
            reserve_attempt(&*self.ports.throttle, &self.policy.questions, &key, now).await?
        {
            return Err(AskQuestionError::TooManyQuestions { retry_after });
        }
        let question = Question {
            id: QuestionId::from_bytes(random_bytes(&*self.ports.random)?),
            subscriber,
            account: request.account,
            topic: request.topic,
            text: request.text,
            asked_at: now,
            answer: None,
        };
        match self.ports.questions.insert(&question).await {
            Ok(()) => Ok(question),
            Err(WriteError::Duplicate | WriteError::Conflict) => {
                // 128 random bits collided, or the adapter misbehaved: nothing was stored, so
                // the attempt does not count.
                self.ports.throttle.release(&key, now).await?;
                Err(PortError::new("question id taken").into())
            }
            Err(WriteError::Port(e)) => Err(e.into()),
        }
    }

    /// The subscriber's latest questions (at most `limit`, 1 to [`MAX_QUESTIONS_PER_PAGE`]),
    /// newest first, with their answers.
    pub async fn my_questions(
        &self,
        auth: &Authenticated,
        limit: u32,
    ) -> Result<Vec<Question>, MyQuestionsError> {
        let subscriber = auth.subscriber();
        Ok(self
            .ports
            .questions
            .list_by_subscriber(subscriber, page_size(limit))
            .await?
            .into_iter()
            .filter(|q| q.subscriber == subscriber)
            .collect())
    }

    /// One of the subscriber's own questions. Another cabinet's question is
    /// [`QuestionError::NotFound`], exactly like a missing one.
    pub async fn question(
        &self,
        auth: &Authenticated,
        id: QuestionId,
    ) -> Result<Question, QuestionError> {
        self.ports
            .questions
            .get(id)
            .await?
            .filter(|q| q.subscriber == auth.subscriber())
            .ok_or(QuestionError::NotFound)
    }

    /// Any question, for an operator whose role covers questions ([`QUESTIONS_ROLE`]).
    pub async fn question_for_operator(
        &self,
        operator: &OperatorPrincipal,
        id: QuestionId,
    ) -> Result<Question, QuestionError> {
        operator.require(QUESTIONS_ROLE)?;
        self.ports
            .questions
            .get(id)
            .await?
            .ok_or(QuestionError::NotFound)
    }

    /// A page of the queue of open questions, oldest first, for an operator whose role covers
    /// questions ([`QUESTIONS_ROLE`]). Pass the page's `next` as `after` for the next page;
    /// questions answered meanwhile simply drop out.
    pub async fn open_questions(
        &self,
        operator: &OperatorPrincipal,
        query: &OpenQuestionsQuery,
    ) -> Result<QuestionPage, OpenQuestionsError> {
        operator.require(QUESTIONS_ROLE)?;
        let limit = page_size(query.limit);
        // One more than asked, to know whether another page follows.
        let mut questions: Vec<Question> = self
            .ports
            .questions
            .list_open(query.supplier.clone(), query.after, limit + 1)
            .await?
            .into_iter()
            .filter(|q| {
                q.is_open()
                    && query
                        .supplier
                        .as_ref()
                        .is_none_or(|s| q.supplier() == Some(s))
                    && query.after.is_none_or(|after| q.cursor() > after)
            })
            .collect();
        let more = questions.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        questions.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more {
            questions.last().map(Question::cursor)
        } else {
            None
        };
        Ok(QuestionPage { questions, next })
    }

    /// Answers an open question, for an operator whose role covers questions
    /// ([`QUESTIONS_ROLE`]), and tells the subscriber an answer is waiting (best effort: by
    /// email, or by SMS when the cabinet has no email; a failed message does not undo the
    /// answer). The answer is one conditional write: if the question was answered meanwhile,
    /// by anyone, it is [`AnswerQuestionError::AlreadyAnswered`] and nothing changes. Returns
    /// the answered question.
    pub async fn answer_question(
        &self,
        operator: &OperatorPrincipal,
        id: QuestionId,
        text: QuestionText,
    ) -> Result<Question, AnswerQuestionError> {
        operator.require(QUESTIONS_ROLE)?;
        let now = self.now();
        let Some(mut question) = self.ports.questions.get(id).await? else {
            return Err(AnswerQuestionError::NotFound);
        };
        if !question.is_open() {
            return Err(AnswerQuestionError::AlreadyAnswered);
        }
        let answer = Answer {
            text,
            operator: operator.id(),
            at: now,
        };
        if !self.ports.questions.answer(id, &answer).await? {
            // Lost the race (or the question vanished): say which.
            return Err(match self.ports.questions.get(id).await? {
                Some(stored) if !stored.is_open() => AnswerQuestionError::AlreadyAnswered,
                Some(_) => PortError::new("the conditional answer refused an open question").into(),
                None => AnswerQuestionError::NotFound,
            });
        }
        question.answer = Some(answer);
        self.notify_answered(&question).await;
        Ok(question)
    }

    /// Best effort: the answer is stored whatever happens here.
    async fn notify_answered(&self, question: &Question) {
        let Ok(Some(subscriber)) = self.ports.subscribers.get(question.subscriber).await else {
            return;
        };
        let message = Message::QuestionAnswered {
            question: question.id,
            topic: question.topic,
        };
        if let Some(email) = &subscriber.email {
            let _ignored = self.ports.email.send(email, &message).await;
        } else if let Some(phone) = &subscriber.phone {
            let _ignored = self.ports.sms.send(phone, &message).await;
        }
    }
}
