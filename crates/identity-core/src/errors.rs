//! [`UserMessage`]: every error of the crate offers a Russian message fit to show a
//! subscriber; `Display` stays English for logs.

/// An error with a message for the subscriber, in Russian. The HTTP layer shows it; it never
/// reveals more than the flow allows (for example whether a login exists).
pub trait UserMessage {
    /// The message to show the subscriber.
    fn user_message(&self) -> &'static str;
}

/// The message shown for any unexpected failure.
pub(crate) const UNEXPECTED_RU: &str = "Сервис временно недоступен. Попробуйте позже.";
