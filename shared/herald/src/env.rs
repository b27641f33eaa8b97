//! Reading a function's configuration from its environment, once, at cold start.

/// A required variable is missing or not valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} must be set ({purpose})")]
pub struct MissingVariable {
    /// The variable.
    pub name: &'static str,
    /// What it configures, for the message.
    pub purpose: &'static str,
}

/// The value of a required variable.
///
/// # Errors
/// [`MissingVariable`] naming it when it is unset, empty or not UTF-8.
pub fn required(name: &'static str, purpose: &'static str) -> Result<String, MissingVariable> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(MissingVariable { name, purpose }),
    }
}
