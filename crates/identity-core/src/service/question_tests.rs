//! Tests of [`QuestionService`] over the in-memory world: every use case and error, the
//! operators' queue paged through under random data (property), two operators answering one
//! question at once in any interleaving (exactly one wins), and port failures through mocks.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use time::Duration;

use super::flow_tests::{PASSWORD, account, email, login, phone, register, signed_in, supplier};
use super::testkit::{T0, World, block_on};
use super::*;
use crate::domain::{
    AccountNumber, AccountRef, LoginHandle, OperatorId, OperatorSessionId, QuestionId,
    QuestionText, SubscriberId, SupplierId,
};
use crate::model::{
    Answer, LinkProof, LinkedAccount, Message, OperatorRole, Question, QuestionCursor,
    QuestionTopic,
};
use crate::ports::*;

pub(crate) fn operator(n: u8, role: OperatorRole) -> OperatorPrincipal {
    OperatorPrincipal::new_unchecked(
        OperatorId::from_bytes([n; 16]),
        role,
        OperatorVia::Session(OperatorSessionId::from_bytes([n; 16])),
    )
}

fn support() -> OperatorPrincipal {
    operator(1, OperatorRole::Support)
}

fn text(s: &str) -> QuestionText {
    QuestionText::parse(s).unwrap()
}

fn other_supplier_account(number: &str) -> AccountRef {
    AccountRef {
        supplier: SupplierId::parse("vodokanal").unwrap(),
        number: AccountNumber::parse(number).unwrap(),
    }
}

fn link(world: &World, subscriber: SubscriberId, account: &AccountRef) {
    world.with(|s| {
        s.links.entry(subscriber).or_default().push(LinkedAccount {
            account: account.clone(),
            proof: LinkProof::Address,
            linked_at: T0,
            active: true,
        });
    });
}

fn ask(account: Option<AccountRef>, topic: QuestionTopic, body: &str) -> AskQuestion {
    AskQuestion {
        account,
        topic,
        text: text(body),
    }
}

/// A signed-in subscriber with ЛС `1001` (supplier `globus`) and `2002` (supplier
/// `vodokanal`) linked.
async fn asker(world: &World) -> (SubscriberId, Authenticated) {
    let (id, auth) = signed_in(world, &world.service()).await;
    link(world, id, &account("1001"));
    link(world, id, &other_supplier_account("2002"));
    (id, auth)
}

/// A second cabinet, signed in.
async fn second_asker(world: &World) -> Authenticated {
    let identity = world.service();
    register(world, &identity, &phone(2), &email("petr")).await;
    let session = login(&identity, LoginHandle::Phone(phone(2)), PASSWORD)
        .await
        .unwrap();
    identity.authenticate(&session.token).await.unwrap()
}

#[tokio::test]
async fn a_subscriber_asks_lists_and_reads_their_questions() {
    let world = World::new();
    let (id, auth) = asker(&world).await;
    let service = world.question_service();
    let now = world.with(|s| s.now.unwrap());

    let first = service
        .ask_question(
            &auth,
            ask(
                Some(account("1001")),
                QuestionTopic::Charges,
                "  Почему выросла плата?  ",
            ),
        )
        .await
        .unwrap();
    assert_eq!(first.subscriber, id);
    assert_eq!(first.account, Some(account("1001")));
    assert_eq!(first.topic, QuestionTopic::Charges);
    assert_eq!(first.text.as_str(), "Почему выросла плата?");
    assert_eq!(first.asked_at, now);
    assert!(first.is_open());
    assert_eq!(first.supplier(), Some(&supplier()));

    world.advance(Duration::minutes(1));
    let general = service
        .ask_question(&auth, ask(None, QuestionTopic::Other, "Как сменить тариф?"))
        .await
        .unwrap();
    assert_eq!(general.supplier(), None);
    world.advance(Duration::minutes(1));
    let third = service
        .ask_question(
            &auth,
            ask(
                Some(other_supplier_account("2002")),
                QuestionTopic::Readings,
                "Не принимаются показания",
            ),
        )
        .await
        .unwrap();

    let mine = service.my_questions(&auth, 10).await.unwrap();
    let ids: Vec<QuestionId> = mine.iter().map(|q| q.id).collect();
    assert_eq!(ids, vec![third.id, general.id, first.id], "newest first");
    let latest = service.my_questions(&auth, 2).await.unwrap();
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0].id, third.id);
    // A limit of 0 is read as 1.
    assert_eq!(service.my_questions(&auth, 0).await.unwrap().len(), 1);

    assert_eq!(service.question(&auth, first.id).await.unwrap(), first);
}

#[tokio::test]
async fn another_cabinets_question_does_not_exist_for_a_subscriber() {
    let world = World::new();
    let (_, auth) = asker(&world).await;
    let other = second_asker(&world).await;
    let service = world.question_service();
    let question = service
        .ask_question(&auth, ask(None, QuestionTopic::Payments, "Где мой платёж?"))
        .await
        .unwrap();

    let theirs = service.question(&other, question.id).await;
    assert!(matches!(theirs, Err(QuestionError::NotFound)));
    let missing = service
        .question(&auth, QuestionId::from_bytes([9; 16]))
        .await;
    assert!(matches!(missing, Err(QuestionError::NotFound)));
    // Same error, same message: nothing tells the two apart.
    assert_eq!(
        theirs.unwrap_err().user_message(),
        missing.unwrap_err().user_message()
    );
    assert!(service.my_questions(&other, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_question_may_name_only_a_linked_account() {
    let world = World::new();
    let (_, auth) = asker(&world).await;
    let service = world.question_service();
    let result = service
        .ask_question(
            &auth,
            ask(
                Some(account("9999")),
                QuestionTopic::Documents,
                "Где квитанция?",
            ),
        )
        .await;
    assert!(matches!(result, Err(AskQuestionError::NotLinked)));
    assert!(world.with(|s| s.questions.is_empty()));
    // A refused question does not count towards the limit.
    let key = crate::model::ThrottleKey::question(auth.subscriber());
    assert!(world.with(|s| s.throttle.get(&key).is_none_or(Vec::is_empty)));
    service
        .ask_question(&auth, ask(None, QuestionTopic::Other, "Вопрос"))
        .await
        .unwrap();
    assert_eq!(world.with(|s| s.throttle[&key].len()), 1);
}

#[tokio::test]
async fn a_subscriber_may_ask_ten_questions_an_hour() {
    let world = World::new();
    let (_, auth) = asker(&world).await;
    let service = world.question_service();
    assert_eq!(service.policy().questions.max_events, 10);
    for n in 0..10 {
        service
            .ask_question(
                &auth,
                ask(None, QuestionTopic::Other, &format!("Вопрос {n}")),
            )
            .await
            .unwrap();
        world.advance(Duration::minutes(1));
    }
    let refused = service
        .ask_question(&auth, ask(None, QuestionTopic::Other, "Ещё один"))
        .await;
    let Err(AskQuestionError::TooManyQuestions { retry_after }) = refused else {
        panic!("expected the limit, got {refused:?}");
    };
    // The first question leaves the hour 50 minutes later.
    assert_eq!(retry_after, Duration::minutes(50));
    assert_eq!(world.with(|s| s.questions.len()), 10);
    // Another cabinet is not affected.
    let other = second_asker(&world).await;
    service
        .ask_question(&other, ask(None, QuestionTopic::Other, "Мой вопрос"))
        .await
        .unwrap();
    world.advance(retry_after);
    service
        .ask_question(&auth, ask(None, QuestionTopic::Other, "Через час"))
        .await
        .unwrap();
}

#[tokio::test]
async fn operators_page_through_open_questions_oldest_first_by_supplier() {
    let world = World::new();
    let (_, auth) = asker(&world).await;
    let service = world.question_service();
    let mut asked = Vec::new();
    for (n, account) in [
        Some(account("1001")),
        None,
        Some(other_supplier_account("2002")),
        Some(account("1001")),
        Some(account("1001")),
    ]
    .into_iter()
    .enumerate()
    {
        let q = service
            .ask_question(
                &auth,
                ask(account, QuestionTopic::Charges, &format!("№{n}")),
            )
            .await
            .unwrap();
        asked.push(q);
        world.advance(Duration::minutes(1));
    }
    let ids = |page: &QuestionPage| page.questions.iter().map(|q| q.id).collect::<Vec<_>>();

    let all = service
        .open_questions(
            &support(),
            &OpenQuestionsQuery {
                limit: 50,
                ..OpenQuestionsQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&all), asked.iter().map(|q| q.id).collect::<Vec<_>>());
    assert_eq!(all.next, None);

    let query = |after: Option<QuestionCursor>| OpenQuestionsQuery {
        supplier: Some(supplier()),
        after,
        limit: 2,
    };
    let first = service
        .open_questions(&support(), &query(None))
        .await
        .unwrap();
    assert_eq!(ids(&first), vec![asked[0].id, asked[3].id]);
    assert_eq!(first.next, Some(asked[3].cursor()));
    // The cursor survives through its text form, and answering meanwhile does not disturb it.
    let cursor = QuestionCursor::parse(&first.next.unwrap().to_string()).unwrap();
    service
        .answer_question(&support(), asked[3].id, text("Ответ"))
        .await
        .unwrap();
    let second = service
        .open_questions(&support(), &query(Some(cursor)))
        .await
        .unwrap();
    assert_eq!(ids(&second), vec![asked[4].id]);
    assert_eq!(second.next, None);

    let water = service
        .open_questions(
            &support(),
            &OpenQuestionsQuery {
                supplier: Some(SupplierId::parse("vodokanal").unwrap()),
                ..OpenQuestionsQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&water), vec![asked[2].id], "a limit of 0 reads as 1");
    assert_eq!(water.next, None);
}

#[tokio::test]
async fn only_support_and_admin_work_with_questions() {
    let world = World::new();
    let (_, auth) = asker(&world).await;
    let service = world.question_service();
    let question = service
        .ask_question(&auth, ask(None, QuestionTopic::Other, "Вопрос"))
        .await
        .unwrap();
    let billing = operator(2, OperatorRole::Billing);
    assert!(matches!(
        service
            .open_questions(&billing, &OpenQuestionsQuery::default())
            .await,
        Err(OpenQuestionsError::Forbidden(Forbidden {
            needed: OperatorRole::Support
        }))
    ));
    assert!(matches!(
        service.question_for_operator(&billing, question.id).await,
        Err(QuestionError::Forbidden(_))
    ));
    let refused = service
        .answer_question(&billing, question.id, text("Ответ"))
        .await;
    assert!(matches!(refused, Err(AnswerQuestionError::Forbidden(_))));
    assert!(world.with(|s| s.answer_ops.is_empty()));

    let admin = operator(3, OperatorRole::Admin);
    assert_eq!(
        service
            .question_for_operator(&admin, question.id)
            .await
            .unwrap(),
        question
    );
    assert!(matches!(
        service
            .question_for_operator(&admin, QuestionId::from_bytes([7; 16]))
            .await,
        Err(QuestionError::NotFound)
    ));
    let page = service
        .open_questions(&admin, &OpenQuestionsQuery::default())
        .await
        .unwrap();
    assert_eq!(page.questions.len(), 1);
    service
        .answer_question(&admin, question.id, text("Ответ администратора"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_answer_is_stored_once_and_the_subscriber_is_emailed() {
    let world = World::new();
    let (_, auth) = asker(&world).await;
    let service = world.question_service();
    let question = service
        .ask_question(
            &auth,
            ask(Some(account("1001")), QuestionTopic::Readings, "Показания?"),
        )
        .await
        .unwrap();
    world.advance(Duration::hours(2));
    let (sms_before, emails_before) = world.with(|s| (s.sms.len(), s.emails.len()));

    let answered = service
        .answer_question(&support(), question.id, text("  Показания приняты.  "))
        .await
        .unwrap();
    let answer = answered.answer.clone().unwrap();
    assert_eq!(answer.text.as_str(), "Показания приняты.");
    assert_eq!(answer.operator, support().id());
    assert_eq!(answer.at, T0 + Duration::hours(2) + Duration::seconds(61));
    assert_eq!(
        service.question(&auth, question.id).await.unwrap(),
        answered
    );

    // Told by email only (the cabinet has one); the message carries no correspondence.
    let (sms, emails) = world.with(|s| (s.sms.clone(), s.emails.clone()));
    assert_eq!(sms.len(), sms_before);
    assert_eq!(emails.len(), emails_before + 1);
    let (to, message) = emails.last().unwrap();
    assert_eq!(to, &email("ivan"));
    assert!(matches!(
        message,
        Message::QuestionAnswered { question: q, topic: QuestionTopic::Readings } if *q == question.id
    ));

    // Answers are never replaced.
    let again = service
        .answer_question(
            &operator(5, OperatorRole::Support),
            question.id,
            text("Иначе"),
        )
        .await;
    assert!(matches!(again, Err(AnswerQuestionError::AlreadyAnswered)));
    assert_eq!(
        service.question(&auth, question.id).await.unwrap(),
        answered
    );
    assert_eq!(world.with(|s| s.emails.len()), emails_before + 1);
    // It left the queue.
    let page = service
        .open_questions(&support(), &OpenQuestionsQuery::default())
        .await
        .unwrap();
    assert!(page.questions.is_empty());

    let missing = service
        .answer_question(&support(), QuestionId::from_bytes([8; 16]), text("Ответ"))
        .await;
    assert!(matches!(missing, Err(AnswerQuestionError::NotFound)));
}

#[tokio::test]
async fn a_cabinet_without_email_is_told_by_sms() {
    let world = World::new();
    let (id, auth) = asker(&world).await;
    world.with(|s| s.subscribers.get_mut(&id).unwrap().email = None);
    let service = world.question_service();
    let question = service
        .ask_question(&auth, ask(None, QuestionTopic::Other, "Вопрос"))
        .await
        .unwrap();
    let emails_before = world.with(|s| s.emails.len());
    service
        .answer_question(&support(), question.id, text("Ответ"))
        .await
        .unwrap();
    let (to, message) = world.with(|s| s.sms.last().cloned().unwrap());
    assert_eq!(to, phone(1));
    assert!(matches!(message, Message::QuestionAnswered { .. }));
    assert_eq!(world.with(|s| s.emails.len()), emails_before);
}

#[test]
fn every_question_error_has_a_russian_message() {
    let forbidden = Forbidden {
        needed: OperatorRole::Support,
    };
    let messages = [
        AskQuestionError::NotLinked.user_message(),
        AskQuestionError::TooManyQuestions {
            retry_after: Duration::MINUTE,
        }
        .user_message(),
        AskQuestionError::Unexpected(PortError::new("x")).user_message(),
        QuestionError::NotFound.user_message(),
        QuestionError::Forbidden(forbidden).user_message(),
        QuestionError::Unexpected(PortError::new("x")).user_message(),
        OpenQuestionsError::Forbidden(forbidden).user_message(),
        OpenQuestionsError::Unexpected(PortError::new("x")).user_message(),
        AnswerQuestionError::NotFound.user_message(),
        AnswerQuestionError::AlreadyAnswered.user_message(),
        AnswerQuestionError::Forbidden(forbidden).user_message(),
        AnswerQuestionError::Unexpected(PortError::new("x")).user_message(),
        MyQuestionsError::Unexpected(PortError::new("x")).user_message(),
    ];
    for m in messages {
        assert!(m.chars().any(|c| ('а'..='я').contains(&c)), "{m}");
    }
}

/// The in-memory question store, but every call first yields to the other tasks a number of
/// times taken from `schedule`, so concurrent answers interleave at every port call.
struct Interleaved {
    world: World,
    schedule: Mutex<Vec<u8>>,
}

impl Interleaved {
    async fn pause(&self) {
        let turns = self.schedule.lock().unwrap().pop().unwrap_or(0);
        for _ in 0..turns {
            tokio::task::yield_now().await;
        }
    }
}

#[async_trait::async_trait]
impl QuestionRepository for Interleaved {
    async fn insert(&self, question: &Question) -> Result<(), WriteError> {
        self.pause().await;
        QuestionRepository::insert(&self.world, question).await
    }
    async fn get(&self, id: QuestionId) -> Result<Option<Question>, PortError> {
        self.pause().await;
        QuestionRepository::get(&self.world, id).await
    }
    async fn list_by_subscriber(
        &self,
        subscriber: SubscriberId,
        limit: u32,
    ) -> Result<Vec<Question>, PortError> {
        self.pause().await;
        self.world.list_by_subscriber(subscriber, limit).await
    }
    async fn list_open(
        &self,
        supplier: Option<SupplierId>,
        after: Option<QuestionCursor>,
        limit: u32,
    ) -> Result<Vec<Question>, PortError> {
        self.pause().await;
        self.world.list_open(supplier, after, limit).await
    }
    async fn answer(&self, id: QuestionId, answer: &Answer) -> Result<bool, PortError> {
        self.pause().await;
        self.world.answer(id, answer).await
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Two operators answer one question at the same time, in any interleaving of their port
    /// calls: exactly one answer is stored (through exactly one successful conditional
    /// write), the other operator is told `AlreadyAnswered`, the stored answer is the
    /// winner's, and the subscriber is told once.
    #[test]
    fn two_operators_answering_at_once_exactly_one_wins(
        schedule in proptest::collection::vec(0u8..4, 0..40),
    ) {
        let world = World::new();
        block_on(async {
            let (_, auth) = asker(&world).await;
            let question = world
                .question_service()
                .ask_question(&auth, ask(None, QuestionTopic::Other, "Вопрос"))
                .await
                .unwrap();
            let mut ports = world.question_ports();
            ports.questions = Arc::new(Interleaved {
                world: world.clone(),
                schedule: Mutex::new(schedule),
            });
            let service = QuestionService::new(ports, SecurityPolicy::default());
            let emails_before = world.with(|s| s.emails.len());
            let (a, b) = (operator(1, OperatorRole::Support), operator(2, OperatorRole::Admin));
            let (first, second) = tokio::join!(
                service.answer_question(&a, question.id, text("Ответ первого")),
                service.answer_question(&b, question.id, text("Ответ второго")),
            );
            let wins = usize::from(first.is_ok()) + usize::from(second.is_ok());
            prop_assert_eq!(wins, 1, "first: {:?}, second: {:?}", first, second);
            let (winner, loser, winner_id) = match (first, second) {
                (Ok(q), Err(e)) => (q, e, a.id()),
                (Err(e), Ok(q)) => (q, e, b.id()),
                _ => unreachable!("exactly one won"),
            };
            prop_assert!(matches!(loser, AnswerQuestionError::AlreadyAnswered), "{:?}", loser);
            let stored = world.with(|s| s.questions[0].clone());
            prop_assert_eq!(&stored, &winner);
            prop_assert_eq!(stored.answer.map(|a| a.operator), Some(winner_id));
            let writes = world.with(|s| s.answer_ops.iter().filter(|(_, ok)| *ok).count());
            prop_assert_eq!(writes, 1);
            prop_assert_eq!(world.with(|s| s.emails.len()), emails_before + 1);
            Ok(())
        })?;
    }

    /// Paging through the queue of open questions with any page size, while the questions
    /// were asked at arbitrary times (ties included) about arbitrary suppliers and some were
    /// answered: every open question of the filter is listed exactly once, in `(asked_at, id)`
    /// order, and the last page has no `next`.
    #[test]
    fn paging_lists_every_open_question_once_in_order(
        questions in proptest::collection::vec((0i64..5, 0u8..3, proptest::bool::weighted(0.3)), 0..25),
        page in 1u32..6,
        filter in proptest::option::of(0u8..2),
    ) {
        let world = World::new();
        let suppliers = ["globus", "vodokanal"];
        world.with(|s| {
            for (n, (minute, owner, answered)) in questions.iter().enumerate() {
                let account = suppliers.get(usize::from(*owner)).map(|name| AccountRef {
                    supplier: SupplierId::parse(name).unwrap(),
                    number: AccountNumber::parse("1").unwrap(),
                });
                s.questions.push(Question {
                    id: QuestionId::from_bytes([u8::try_from(n).unwrap().wrapping_mul(37); 16]),
                    subscriber: SubscriberId::from_bytes([1; 16]),
                    account,
                    topic: QuestionTopic::Other,
                    text: text("Вопрос"),
                    asked_at: T0 + Duration::minutes(*minute),
                    answer: answered.then(|| Answer {
                        text: text("Ответ"),
                        operator: OperatorId::from_bytes([1; 16]),
                        at: T0,
                    }),
                });
            }
        });
        let supplier = filter.map(|f| SupplierId::parse(suppliers[usize::from(f)]).unwrap());
        let mut expected: Vec<Question> = world.with(|s| s.questions.clone())
            .into_iter()
            .filter(|q| q.is_open() && supplier.as_ref().is_none_or(|x| q.supplier() == Some(x)))
            .collect();
        expected.sort_by_key(Question::cursor);
        let service = world.question_service();
        let listed = block_on(async {
            let mut listed = Vec::new();
            let mut after = None;
            for _ in 0..100 {
                let result = service
                    .open_questions(&support(), &OpenQuestionsQuery { supplier: supplier.clone(), after, limit: page })
                    .await
                    .unwrap();
                assert!(result.questions.len() <= usize::try_from(page).unwrap());
                listed.extend(result.questions);
                match result.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            listed
        });
        prop_assert_eq!(listed, expected);
    }
}

fn fail() -> PortError {
    PortError::new("injected failure")
}

async fn with_questions(
    patch: impl FnOnce(&mut QuestionPorts),
) -> (World, QuestionService, Authenticated, Question) {
    let world = World::new();
    let (_, auth) = asker(&world).await;
    let question = world
        .question_service()
        .ask_question(&auth, ask(None, QuestionTopic::Other, "Вопрос"))
        .await
        .unwrap();
    let mut ports = world.question_ports();
    patch(&mut ports);
    let service = QuestionService::new(ports, SecurityPolicy::default());
    (world, service, auth, question)
}

#[tokio::test]
async fn a_failing_question_store_fails_every_question_use_case() {
    let mut questions = MockQuestionRepository::new();
    questions.expect_insert().returning(|_| Err(fail().into()));
    questions.expect_get().returning(|_| Err(fail()));
    questions
        .expect_list_by_subscriber()
        .returning(|_, _| Err(fail()));
    questions
        .expect_list_open()
        .returning(|_, _, _| Err(fail()));
    let (_, service, auth, question) = with_questions(|p| p.questions = Arc::new(questions)).await;
    assert!(matches!(
        service
            .ask_question(&auth, ask(None, QuestionTopic::Other, "Вопрос"))
            .await,
        Err(AskQuestionError::Unexpected(_))
    ));
    assert!(matches!(
        service.my_questions(&auth, 10).await,
        Err(MyQuestionsError::Unexpected(_))
    ));
    assert!(matches!(
        service.question(&auth, question.id).await,
        Err(QuestionError::Unexpected(_))
    ));
    assert!(matches!(
        service.question_for_operator(&support(), question.id).await,
        Err(QuestionError::Unexpected(_))
    ));
    assert!(matches!(
        service
            .open_questions(&support(), &OpenQuestionsQuery::default())
            .await,
        Err(OpenQuestionsError::Unexpected(_))
    ));
    assert!(matches!(
        service
            .answer_question(&support(), question.id, text("Ответ"))
            .await,
        Err(AnswerQuestionError::Unexpected(_))
    ));
}

#[tokio::test]
async fn a_failing_link_store_or_throttle_fails_asking() {
    let mut links = MockLinkRepository::new();
    links.expect_list().returning(|_| Err(fail()));
    let (_, service, auth, _) = with_questions(|p| p.links = Arc::new(links)).await;
    assert!(matches!(
        service
            .ask_question(
                &auth,
                ask(Some(account("1001")), QuestionTopic::Other, "Вопрос")
            )
            .await,
        Err(AskQuestionError::Unexpected(_))
    ));
    let mut throttle = MockThrottleRepository::new();
    throttle.expect_reserve().returning(|_, _, _| Err(fail()));
    let (world, service, auth, _) = with_questions(|p| p.throttle = Arc::new(throttle)).await;
    assert!(matches!(
        service
            .ask_question(&auth, ask(None, QuestionTopic::Other, "Вопрос"))
            .await,
        Err(AskQuestionError::Unexpected(_))
    ));
    // Fails closed: nothing stored.
    assert_eq!(world.with(|s| s.questions.len()), 1);
}

#[tokio::test]
async fn a_taken_question_id_is_unexpected_and_does_not_count() {
    let mut questions = MockQuestionRepository::new();
    questions
        .expect_insert()
        .returning(|_| Err(WriteError::Duplicate));
    let (world, service, auth, _) = with_questions(|p| p.questions = Arc::new(questions)).await;
    let key = crate::model::ThrottleKey::question(auth.subscriber());
    let before = world.with(|s| s.throttle.get(&key).map_or(0, Vec::len));
    assert!(matches!(
        service
            .ask_question(&auth, ask(None, QuestionTopic::Other, "Вопрос"))
            .await,
        Err(AskQuestionError::Unexpected(_))
    ));
    assert_eq!(
        world.with(|s| s.throttle.get(&key).map_or(0, Vec::len)),
        before
    );
}

#[tokio::test]
async fn a_refused_conditional_answer_is_reported_by_what_is_stored() {
    // The store refuses the write but still shows the question open: an adapter fault, not a
    // lost race.
    let (world, _, _, question) = with_questions(|_| {}).await;
    let stored = question.clone();
    let mut questions = MockQuestionRepository::new();
    questions
        .expect_get()
        .returning(move |_| Ok(Some(stored.clone())));
    questions.expect_answer().returning(|_, _| Ok(false));
    let mut ports = world.question_ports();
    ports.questions = Arc::new(questions);
    let service = QuestionService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        service
            .answer_question(&support(), question.id, text("Ответ"))
            .await,
        Err(AnswerQuestionError::Unexpected(_))
    ));

    // The question vanished between the read and the write (its cabinet was deleted).
    let mut questions = MockQuestionRepository::new();
    let mut reads = 0;
    let stored = question.clone();
    questions.expect_get().returning(move |_| {
        reads += 1;
        Ok((reads == 1).then(|| stored.clone()))
    });
    questions.expect_answer().returning(|_, _| Ok(false));
    let mut ports = world.question_ports();
    ports.questions = Arc::new(questions);
    let service = QuestionService::new(ports, SecurityPolicy::default());
    assert!(matches!(
        service
            .answer_question(&support(), question.id, text("Ответ"))
            .await,
        Err(AnswerQuestionError::NotFound)
    ));
}

#[tokio::test]
async fn a_failed_notice_does_not_undo_the_answer() {
    let mut email_sender = MockEmailSender::new();
    email_sender.expect_send().returning(|_, _| Err(fail()));
    let mut subscribers = MockSubscriberRepository::new();
    subscribers.expect_get().returning(|_| Err(fail()));
    let (world, service, auth, question) =
        with_questions(|p| p.email = Arc::new(email_sender)).await;
    let answered = service
        .answer_question(&support(), question.id, text("Ответ"))
        .await
        .unwrap();
    assert!(answered.answer.is_some());
    let mut ports = world.question_ports();
    ports.subscribers = Arc::new(subscribers);
    let service = QuestionService::new(ports, SecurityPolicy::default());
    let second = service
        .ask_question(&auth, ask(None, QuestionTopic::Other, "Второй"))
        .await
        .unwrap();
    assert!(
        service
            .answer_question(&support(), second.id, text("Ответ"))
            .await
            .is_ok()
    );
}
