//! Passwords: the rules a new password must meet ([`check_new_password`]), the stored
//! [`PasswordHash`], and [`Argon2idHasher`], the production [`PasswordHasher`] whose parameters
//! ([`ARGON2ID_PARAMS`]) are defined here and nowhere else.
//!
//! Hashing is CPU work, not IO, so the real implementation lives in this pure crate; its salt
//! comes from the [`Random`] port. Adapters in async servers should call it from a blocking
//! thread pool.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::errors::UserMessage;
use crate::policy::PasswordPolicy;
use crate::ports::{PasswordHasher, PortError, Random};
use crate::secret::Secret;

/// Argon2id parameters: memory in KiB, iterations, lanes. OWASP's Password Storage Cheat Sheet
/// minimum for Argon2id is 19 MiB, 2 iterations, 1 lane; this is that minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2idParams {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Iterations (time cost).
    pub iterations: u32,
    /// Lanes (parallelism).
    pub lanes: u32,
}

/// The one definition of the Argon2id cost: 19 MiB, 2 iterations, 1 lane.
pub const ARGON2ID_PARAMS: Argon2idParams = Argon2idParams {
    memory_kib: 19 * 1024,
    iterations: 2,
    lanes: 1,
};

/// A password hash in PHC string format (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
/// `Debug` shows only the algorithm part.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from storage (or produced by a test fake).
    pub fn from_phc(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string, for storage.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = self.0.split('$').nth(1).unwrap_or("?");
        write!(f, "PasswordHash({algorithm}, [REDACTED])")
    }
}

/// Normalises a password as NIST SP 800-63B 5.1.1.2 suggests (NFKC), so that the same
/// password typed on two keyboards hashes the same.
pub(crate) fn normalise(password: &Secret<String>) -> Secret<String> {
    Secret::new(password.expose().nfkc().collect())
}

/// The Argon2id [`PasswordHasher`] with [`ARGON2ID_PARAMS`]; salts of 16 bytes come from the
/// [`Random`] port.
pub struct Argon2idHasher {
    random: Arc<dyn Random>,
    params: Argon2idParams,
}

impl Argon2idHasher {
    /// A hasher with [`ARGON2ID_PARAMS`].
    pub fn new(random: Arc<dyn Random>) -> Self {
        Self {
            random,
            params: ARGON2ID_PARAMS,
        }
    }

    /// A hasher with stronger parameters; refuses any parameter below [`ARGON2ID_PARAMS`].
    pub fn with_params(random: Arc<dyn Random>, params: Argon2idParams) -> Result<Self, PortError> {
        if params.memory_kib < ARGON2ID_PARAMS.memory_kib
            || params.iterations < ARGON2ID_PARAMS.iterations
            || params.lanes < ARGON2ID_PARAMS.lanes
        {
            return Err(PortError::new(
                "argon2id parameters below the OWASP minimum",
            ));
        }
        Ok(Self { random, params })
    }

    fn argon2(&self) -> Result<Argon2<'static>, PortError> {
        let params = Params::new(
            self.params.memory_kib,
            self.params.iterations,
            self.params.lanes,
            None,
        )
        .map_err(|e| PortError::new(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

#[async_trait::async_trait]
impl PasswordHasher for Argon2idHasher {
    async fn hash(&self, password: &Secret<String>) -> Result<PasswordHash, PortError> {
        let mut salt = [0u8; 16];
        self.random.fill(&mut salt)?;
        let phc = self
            .argon2()?
            .hash_password_with_salt(password.expose().as_bytes(), &salt)
            .map_err(|e| PortError::new(format!("argon2 hashing: {e}")))?;
        Ok(PasswordHash(phc.to_string()))
    }

    async fn verify(
        &self,
        password: &Secret<String>,
        hash: &PasswordHash,
    ) -> Result<bool, PortError> {
        let phc = Phc::new(&hash.0)
            .map_err(|e| PortError::new(format!("stored hash is not a PHC string: {e}")))?;
        if phc.algorithm.as_str() != "argon2id" {
            return Err(PortError::new("stored hash is not argon2id"));
        }
        Ok(self
            .argon2()?
            .verify_password(password.expose().as_bytes(), &phc)
            .is_ok())
    }
}

/// Why a new password was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PasswordRejected {
    /// The two entries differ.
    #[error("the passwords do not match")]
    Mismatch,
    /// Shorter than the minimum.
    #[error("password shorter than {min} characters")]
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// Longer than the maximum.
    #[error("password longer than {max} characters")]
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// Common, predictable or breached-style (by the strength estimator).
    #[error("password is too easy to guess")]
    TooWeak,
    /// Contains a login of the subscriber (ЛС number, phone, email).
    #[error("password contains the login")]
    ContainsLogin,
}

impl UserMessage for PasswordRejected {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Mismatch => "Пароли не совпадают.",
            // The limits are configurable: the caller shows `min`/`max` next to the message.
            Self::TooShort { .. } => "Пароль слишком короткий.",
            Self::TooLong { .. } => "Пароль слишком длинный.",
            Self::TooWeak => {
                "Этот пароль легко подобрать. Придумайте другой, например из нескольких слов."
            }
            Self::ContainsLogin => {
                "Пароль не должен содержать номер лицевого счёта, телефон или адрес почты."
            }
        }
    }
}

/// Checks a new password entered twice: equal entries, length in characters within the policy
/// (after NFKC normalisation), no login inside it (`logins`: ЛС number, phone digits, email and
/// its local part; case ignored, entries shorter than 4 characters skipped), and a `zxcvbn`
/// score of at least `min_strength` with `personal` words (name, logins) as hints. No
/// composition rules. Returns the normalised password to hash.
pub fn check_new_password(
    policy: &PasswordPolicy,
    password: &Secret<String>,
    repeat: &Secret<String>,
    logins: &[String],
    personal: &[String],
) -> Result<Secret<String>, PasswordRejected> {
    if password.expose() != repeat.expose() {
        return Err(PasswordRejected::Mismatch);
    }
    let normalised = normalise(password);
    let chars = normalised.expose().chars().count();
    if chars < policy.min_chars {
        return Err(PasswordRejected::TooShort {
            min: policy.min_chars,
        });
    }
    if chars > policy.max_chars {
        return Err(PasswordRejected::TooLong {
            max: policy.max_chars,
        });
    }
    let lowered = normalised.expose().to_lowercase();
    if logins
        .iter()
        .filter(|l| l.chars().count() >= 4)
        .any(|l| lowered.contains(&l.to_lowercase()))
    {
        return Err(PasswordRejected::ContainsLogin);
    }
    let hints: Vec<&str> = logins.iter().chain(personal).map(String::as_str).collect();
    let score = u8::from(zxcvbn::zxcvbn(normalised.expose(), &hints).score());
    if score < policy.min_strength {
        return Err(PasswordRejected::TooWeak);
    }
    Ok(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SecurityPolicy;
    use crate::ports::MockRandom;

    fn check(password: &str, logins: &[&str]) -> Result<Secret<String>, PasswordRejected> {
        let logins: Vec<String> = logins.iter().map(|s| (*s).to_owned()).collect();
        check_new_password(
            &SecurityPolicy::default().password,
            &password.into(),
            &password.into(),
            &logins,
            &[],
        )
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(
            check("Ёж7_", &[]).err(),
            Some(PasswordRejected::TooShort { min: 8 })
        );
        assert_eq!(
            check(&"я".repeat(129), &[]).err(),
            Some(PasswordRejected::TooLong { max: 128 })
        );
        // 8 Cyrillic letters are 16 bytes but 8 characters: long enough (strength decides).
        assert_ne!(
            check("жзклмнпр", &[]).err(),
            Some(PasswordRejected::TooShort { min: 8 })
        );
    }

    #[test]
    fn common_passwords_are_refused_and_passphrases_accepted() {
        for weak in [
            "password",
            "12345678",
            "qwertyuiop",
            "password1",
            "iloveyou123",
        ] {
            assert_eq!(
                check(weak, &[]).err(),
                Some(PasswordRejected::TooWeak),
                "{weak}"
            );
        }
        for strong in [
            "correct horse battery staple",
            "тёплый ветер над Волгой 1987",
            "Zq8#vL2!pW9m",
        ] {
            assert!(check(strong, &[]).is_ok(), "{strong}");
        }
    }

    #[test]
    fn no_composition_rules() {
        // All lowercase letters and spaces, no digits or symbols: accepted when strong.
        assert!(check("blue umbrella under the quiet harbour", &[]).is_ok());
    }

    #[test]
    fn passwords_containing_the_login_are_refused() {
        assert_eq!(
            check("x1234567890123 correct horse", &["1234567890123"]).err(),
            Some(PasswordRejected::ContainsLogin)
        );
        assert_eq!(
            check(
                "Ivan.Petrov-staple-battery",
                &["ivan.petrov@mail.ru", "ivan.petrov"]
            )
            .err(),
            Some(PasswordRejected::ContainsLogin)
        );
    }

    #[test]
    fn entries_must_match() {
        let policy = SecurityPolicy::default().password;
        let result = check_new_password(
            &policy,
            &"correct horse battery staple".into(),
            &"correct horse battery stapl".into(),
            &[],
            &[],
        );
        assert_eq!(result.err(), Some(PasswordRejected::Mismatch));
    }

    #[test]
    fn passwords_are_nfkc_normalised() {
        // U+FB01 (ﬁ ligature) normalises to "fi".
        let normalised = check("ﬁve quiet harbour lanterns", &[]).unwrap();
        assert_eq!(normalised.expose(), "five quiet harbour lanterns");
    }

    fn fixed_random() -> Arc<dyn Random> {
        let mut random = MockRandom::new();
        random.expect_fill().returning(|buf| {
            buf.fill(7);
            Ok(())
        });
        Arc::new(random)
    }

    #[tokio::test]
    async fn argon2id_hashes_with_the_owasp_parameters_and_verifies() {
        let hasher = Argon2idHasher::new(fixed_random());
        let hash = hasher.hash(&"correct horse".into()).await.unwrap();
        assert!(
            hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_phc()
        );
        assert!(hasher.verify(&"correct horse".into(), &hash).await.unwrap());
        assert!(!hasher.verify(&"correct horsE".into(), &hash).await.unwrap());
        assert!(!format!("{hash:?}").contains(hash.as_phc()));
    }

    #[tokio::test]
    async fn argon2id_refuses_weaker_parameters_and_foreign_hashes() {
        let weaker = Argon2idParams {
            memory_kib: 4096,
            ..ARGON2ID_PARAMS
        };
        assert!(Argon2idHasher::with_params(fixed_random(), weaker).is_err());
        let hasher = Argon2idHasher::new(fixed_random());
        assert!(
            hasher
                .verify(&"x".into(), &PasswordHash::from_phc("not a hash"))
                .await
                .is_err()
        );
        let argon2i = "$argon2i$v=19$m=19456,t=2,p=1$BwcHBwcHBwcHBwcHBwcHBw$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(
            hasher
                .verify(&"x".into(), &PasswordHash::from_phc(argon2i))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_failing_random_source_fails_hashing() {
        let mut random = MockRandom::new();
        random
            .expect_fill()
            .returning(|_| Err(PortError::new("no entropy")));
        let hasher = Argon2idHasher::new(Arc::new(random));
        assert!(hasher.hash(&"correct horse".into()).await.is_err());
    }
}
