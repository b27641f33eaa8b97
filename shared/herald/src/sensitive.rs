//! Values that must never reach a log line: a customer's e-mail address, a street address.
//!
//! Customer data travels in events, and a log line is read by more people, and kept longer,
//! than the event it came from. A field declared [`Sensitive<T>`] in an event's detail type keeps
//! its value on the bus and in storage (it serializes and deserializes exactly as `T`, so the
//! event's schema does not change), but prints as [`REDACTED`] wherever it is formatted: in a
//! `tracing` field (`%email`, `?order`), in an error's message, in a `{:?}` of any value holding
//! it. The only way to the value is [`Sensitive::expose`], which a reader of the code can find.
//!
//! ```
//! use herald::Sensitive;
//!
//! let email = Sensitive::new("ada@example.com".to_owned());
//! assert_eq!(format!("{email} {email:?}"), "[redacted] [redacted]");
//! assert_eq!(email.expose(), "ada@example.com");
//! assert_eq!(serde_json::to_string(&email).ok().as_deref(), Some("\"ada@example.com\""));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a sensitive value prints as.
pub const REDACTED: &str = "[redacted]";

/// A value that prints as [`REDACTED`] and serializes as itself.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Marks `value` sensitive.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself, for the code that must use it (sending the e-mail, printing the label);
    /// never for a log line.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// The value itself, unmarked.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl From<&str> for Sensitive<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Customer {
        customer_id: String,
        email: Sensitive<String>,
    }

    #[test]
    fn a_sensitive_field_is_redacted_when_formatted_and_kept_when_serialized() {
        let customer: Customer = serde_json::from_str(r#"{"customer_id":"cus-42","email":"ada@example.com"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            format!("{customer:?}"),
            r#"Customer { customer_id: "cus-42", email: [redacted] }"#
        );
        assert_eq!(
            serde_json::to_string(&customer).unwrap_or_default(),
            r#"{"customer_id":"cus-42","email":"ada@example.com"}"#
        );
        assert_eq!(customer.email.expose(), "ada@example.com");
    }
}
