//! [`Secret`]: a wrapper for passwords, one-time codes and tokens whose `Debug` and `Display`
//! never show the value.

use std::fmt;

/// A value that must never appear in logs, panics or error messages.
///
/// `Debug` and `Display` print `[REDACTED]`; the only way to read the value is
/// [`Secret::expose`], which makes every use easy to find in review. `Secret` implements neither
/// `Serialize` nor `PartialEq` on purpose: secrets are compared through hashes in constant time.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Gives access to the wrapped value. Call it only where the raw value is really needed.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let raw = "hunter2-very-secret";
        let secret = Secret::from(raw);
        let outputs = [
            format!("{secret:?}"),
            format!("{secret:#?}"),
            format!("{secret}"),
            format!("{:?}", Some(&secret)),
            format!("{:?}", vec![secret.clone()]),
        ];
        for out in outputs {
            assert!(!out.contains(raw), "leaked in {out}");
            assert!(out.contains("REDACTED"), "{out}");
        }
        assert_eq!(secret.expose(), raw);
    }

    #[test]
    fn redacts_inside_structs_that_derive_debug() {
        #[derive(Debug)]
        #[allow(dead_code, reason = "the field is read only through Debug")]
        struct Login {
            password: Secret<String>,
        }
        let login = Login {
            password: Secret::from("123456-секрет"),
        };
        let out = format!("{login:?}");
        assert!(!out.contains("секрет"));
        assert!(!out.contains("123456"));
    }
}
