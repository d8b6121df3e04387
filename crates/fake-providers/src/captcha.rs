//! [`SandboxCaptcha`]: a captcha that asks a sum («37 + 5 = ?») and, being a sandbox, also
//! tells the answer ([`CaptchaChallenge::sandbox_answer`]) so scripts and tests can pass it.
//!
//! [`SandboxCaptcha::issue`] stores only the SHA-256 digest of the answer (its canonical
//! decimal text) with a deadline ([`CaptchaSettings::ttl`], 10 minutes by default).
//! `CaptchaVerifier::verify` takes `"<id>:<answer>"` ([`answer_text`]) and asks the store to
//! use the challenge up in one atomic step ([`SandboxStore::use_captcha`]):
//!
//! - **one attempt per challenge**: the first well-formed answer uses it up, right or wrong,
//!   and only a right one is accepted; a second use is refused;
//! - unknown, used or expired challenges are refused; so is a malformed answer (no `:`, an id
//!   that is not 32 lowercase hex characters, an answer that is not a number), without
//!   touching the store — refusals are `Ok(false)`, never errors.

use std::sync::Arc;

use async_trait::async_trait;
use identity_core::Secret;
use identity_core::ports::{CaptchaVerifier, Clock, PortError, Random};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::store::{CaptchaRow, SandboxStore};

/// How challenges are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptchaSettings {
    /// How long a challenge is accepted after it was issued (default 10 minutes).
    pub ttl: Duration,
    /// If set, every challenge's answer is this number (the question still adds up to it):
    /// for walkthroughs with `curl` that cannot read the answer from the response.
    pub fixed_answer: Option<u32>,
}

impl Default for CaptchaSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::minutes(10),
            fixed_answer: None,
        }
    }
}

/// A challenge as shown to the subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptchaChallenge {
    /// Its id (32 lowercase hex characters); the client sends it back with the answer.
    pub id: String,
    /// The question as text, for example `37 + 5 = ?`.
    pub question: String,
    /// The question drawn as a standalone SVG image.
    pub image_svg: String,
    /// The answer, for example `42` — revealed because this is the sandbox.
    pub sandbox_answer: String,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// The sandbox captcha: issues challenges and verifies answers through a [`SandboxStore`].
#[derive(Clone)]
pub struct SandboxCaptcha {
    store: Arc<dyn SandboxStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    settings: CaptchaSettings,
}

impl std::fmt::Debug for SandboxCaptcha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxCaptcha")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SandboxCaptcha {
    /// A captcha storing challenges in `store`, timed by `clock`, drawing ids and questions
    /// from `random`.
    pub fn new(
        store: Arc<dyn SandboxStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        settings: CaptchaSettings,
    ) -> Self {
        Self {
            store,
            clock,
            random,
            settings,
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> CaptchaSettings {
        self.settings
    }

    /// Issues and stores a new challenge.
    pub async fn issue(&self) -> Result<CaptchaChallenge, PortError> {
        let mut id = [0u8; 16];
        self.random.fill(&mut id)?;
        let mut draw = [0u8; 4];
        self.random.fill(&mut draw)?;
        let (a, b) = match self.settings.fixed_answer {
            Some(answer) => split(answer, draw[2]),
            // A sum of a two-digit and a one-digit number: 12 ..= 98. The tiny bias of the
            // modulo does not matter here.
            None => (
                10 + u32::from(u16::from_be_bytes([draw[0], draw[1]]) % 80),
                2 + u32::from(draw[2] % 8),
            ),
        };
        let answer = a + b;
        let question = format!("{a} + {b} = ?");
        let now = self.clock.now();
        let row = CaptchaRow {
            id: hex::encode(id),
            answer_digest: answer_digest(answer),
            issued_at: now,
            expires_at: now + self.settings.ttl,
        };
        self.store.put_captcha(&row).await?;
        Ok(CaptchaChallenge {
            image_svg: svg(&question),
            question,
            sandbox_answer: answer.to_string(),
            expires_at: row.expires_at,
            id: row.id,
        })
    }
}

#[async_trait]
impl CaptchaVerifier for SandboxCaptcha {
    async fn verify(&self, answer: &Secret<String>) -> Result<bool, PortError> {
        let Some((id, answer)) = parse_answer(answer.expose()) else {
            return Ok(false);
        };
        let now = self.clock.now();
        Ok(self
            .store
            .use_captcha(id, &answer_digest(answer), now)
            .await?)
    }
}

/// The answer string `CaptchaVerifier::verify` expects: `"<id>:<answer>"`.
pub fn answer_text(id: &str, answer: &str) -> String {
    format!("{id}:{answer}")
}

/// SHA-256 of the canonical decimal text of `answer` (no sign, no leading zeros).
pub fn answer_digest(answer: u32) -> [u8; 32] {
    Sha256::digest(answer.to_string().as_bytes()).into()
}

/// `"<id>:<answer>"` split into a well-formed id and the number answered (surrounding spaces
/// and leading zeros allowed); `None` if malformed.
fn parse_answer(text: &str) -> Option<(&str, u32)> {
    let (id, answer) = text.split_once(':')?;
    let id_ok = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let answer = answer.trim();
    let answer_ok =
        !answer.is_empty() && answer.len() <= 9 && answer.bytes().all(|b| b.is_ascii_digit());
    if !(id_ok && answer_ok) {
        return None;
    }
    Some((id, answer.parse().ok()?))
}

/// `answer` as a sum `a + b` with a small `b` drawn from `draw` (`answer` itself plus 0 when
/// it is below 2).
fn split(answer: u32, draw: u8) -> (u32, u32) {
    if answer < 2 {
        return (answer, 0);
    }
    let b = 1 + u32::from(draw) % answer.min(9);
    (answer - b, b)
}

/// `question` drawn as an SVG image (the question is digits, spaces and `+ = ?`, which need no
/// escaping).
fn svg(question: &str) -> String {
    format!(
        concat!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="64" "##,
            r##"viewBox="0 0 200 64" role="img" aria-label="{q}">"##,
            r##"<rect width="200" height="64" rx="6" fill="#f3f4f6"/>"##,
            r##"<path d="M8 50 C60 10, 140 60, 192 14" stroke="#9ca3af" fill="none"/>"##,
            r##"<text x="100" y="42" text-anchor="middle" font-family="monospace" "##,
            r##"font-size="28" fill="#111827">{q}</text></svg>"##
        ),
        q = question
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use time::macros::datetime;

    use super::*;
    use crate::random::OsRandom;
    use crate::store::MemorySandboxStore;

    /// A clock tests move by hand.
    struct TestClock(Mutex<OffsetDateTime>);

    impl TestClock {
        fn advance(&self, by: Duration) {
            let mut now = self.0.lock().unwrap();
            *now += by;
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> OffsetDateTime {
            *self.0.lock().unwrap()
        }
    }

    fn captcha(settings: CaptchaSettings) -> (SandboxCaptcha, Arc<TestClock>) {
        let clock = Arc::new(TestClock(Mutex::new(datetime!(2026-12-01 10:00 UTC))));
        let captcha = SandboxCaptcha::new(
            Arc::new(MemorySandboxStore::new()),
            clock.clone(),
            Arc::new(OsRandom),
            settings,
        );
        (captcha, clock)
    }

    async fn verify(captcha: &SandboxCaptcha, text: &str) -> bool {
        captcha.verify(&Secret::from(text)).await.unwrap()
    }

    /// The sum the question asks.
    fn sum_of(question: &str) -> u32 {
        let sum = question.strip_suffix(" = ?").unwrap();
        let (a, b) = sum.split_once(" + ").unwrap();
        a.parse::<u32>().unwrap() + b.parse::<u32>().unwrap()
    }

    #[tokio::test]
    async fn the_right_answer_is_accepted_once() {
        let (captcha, _) = captcha(CaptchaSettings::default());
        let c = captcha.issue().await.unwrap();
        assert_eq!(c.id.len(), 32);
        assert_eq!(sum_of(&c.question).to_string(), c.sandbox_answer);
        assert!(c.image_svg.starts_with("<svg") && c.image_svg.ends_with("</svg>"));
        assert!(c.image_svg.contains(&c.question));
        let answer = answer_text(&c.id, &c.sandbox_answer);
        assert!(verify(&captcha, &answer).await);
        assert!(!verify(&captcha, &answer).await, "a challenge is used once");
    }

    #[tokio::test]
    async fn a_wrong_answer_uses_the_challenge_up() {
        let (captcha, _) = captcha(CaptchaSettings::default());
        let c = captcha.issue().await.unwrap();
        let wrong = c.sandbox_answer.parse::<u32>().unwrap() + 1;
        assert!(!verify(&captcha, &answer_text(&c.id, &wrong.to_string())).await);
        assert!(!verify(&captcha, &answer_text(&c.id, &c.sandbox_answer)).await);
    }

    #[tokio::test]
    async fn an_expired_challenge_is_refused() {
        let (captcha, clock) = captcha(CaptchaSettings::default());
        let early = captcha.issue().await.unwrap();
        let late = captcha.issue().await.unwrap();
        assert_eq!(late.expires_at, clock.now() + Duration::minutes(10));
        clock.advance(Duration::minutes(10) - Duration::SECOND);
        assert!(verify(&captcha, &answer_text(&early.id, &early.sandbox_answer)).await);
        clock.advance(Duration::SECOND);
        assert!(!verify(&captcha, &answer_text(&late.id, &late.sandbox_answer)).await);
    }

    #[tokio::test]
    async fn malformed_and_unknown_answers_are_refused_without_using_the_challenge() {
        let (captcha, _) = captcha(CaptchaSettings::default());
        let c = captcha.issue().await.unwrap();
        let upper = c.id.to_uppercase();
        let malformed = [
            String::new(),
            c.sandbox_answer.clone(),
            format!("{}{}", c.id, c.sandbox_answer),
            format!("{}:", c.id),
            format!(":{}", c.sandbox_answer),
            format!("{}:abc", c.id),
            format!("{}:-{}", c.id, c.sandbox_answer),
            format!("{}:1.5", c.id),
            format!("{}:9999999999", c.id),
            format!("{upper}:{}", c.sandbox_answer),
            format!("{}x:{}", &c.id[..31], c.sandbox_answer),
            format!("{}0:{}", c.id, c.sandbox_answer),
        ];
        for text in &malformed {
            assert!(!verify(&captcha, text).await, "{text:?}");
        }
        let unknown = answer_text(&"0".repeat(32), &c.sandbox_answer);
        assert!(!verify(&captcha, &unknown).await);
        // None of these touched the challenge; spaces and leading zeros are allowed.
        let padded = format!("{}: 0{} ", c.id, c.sandbox_answer);
        assert!(verify(&captcha, &padded).await);
    }

    #[tokio::test]
    async fn a_fixed_answer_is_the_answer_of_every_challenge() {
        for fixed in [0, 1, 7, 12_345] {
            let (captcha, _) = captcha(CaptchaSettings {
                fixed_answer: Some(fixed),
                ..CaptchaSettings::default()
            });
            for _ in 0..5 {
                let c = captcha.issue().await.unwrap();
                assert_eq!(c.sandbox_answer, fixed.to_string());
                assert_eq!(sum_of(&c.question), fixed, "{}", c.question);
                assert!(verify(&captcha, &answer_text(&c.id, &fixed.to_string())).await);
            }
        }
    }

    #[tokio::test]
    async fn questions_vary_and_stay_small() {
        let (captcha, _) = captcha(CaptchaSettings::default());
        let mut answers = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for _ in 0..50 {
            let c = captcha.issue().await.unwrap();
            let answer: u32 = c.sandbox_answer.parse().unwrap();
            assert!((12..=98).contains(&answer), "{answer}");
            answers.insert(answer);
            assert!(ids.insert(c.id));
        }
        assert!(answers.len() > 5, "{answers:?}");
    }

    #[test]
    fn the_digest_is_sha256_of_the_canonical_answer() {
        assert_eq!(
            hex::encode(answer_digest(42)),
            "73475cb40a568e8da8a045ced110137e159f890ac4da883b6b17dc651b3a8049"
        );
        assert_eq!(
            parse_answer(&format!("{}:007", "a".repeat(32))).map(|p| p.1),
            Some(7)
        );
    }
}
