//! Reading a function's configuration, once, at cold start: from the process environment in
//! `main.rs`, or from any other lookup (a map, in tests) through the same code.

/// A required variable is missing or not valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} must be set ({purpose})")]
pub struct MissingVariable {
    /// The variable.
    pub name: &'static str,
    /// What it configures, for the message.
    pub purpose: &'static str,
}

/// The process environment as a lookup: the variable's value, if it is set and UTF-8. Pass it
/// where a lookup is expected, e.g. `Config::from_lookup(&herald::env::process)`.
pub fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The value of a required variable of the process environment.
///
/// # Errors
/// [`MissingVariable`] naming it when it is unset, empty or not UTF-8.
pub fn required(name: &'static str, purpose: &'static str) -> Result<String, MissingVariable> {
    required_from(&process, name, purpose)
}

/// The value of a required variable, as `lookup` answers it.
///
/// # Errors
/// [`MissingVariable`] naming it when `lookup` has no value for it, or an empty one.
pub fn required_from(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    purpose: &'static str,
) -> Result<String, MissingVariable> {
    match lookup(name) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(MissingVariable { name, purpose }),
    }
}

/// A list variable of `key=value` entries separated by commas, e.g. `SKU-1=5,SKU-2=10`: blank
/// entries are skipped, both sides are trimmed and must not be empty.
///
/// # Errors
/// The first entry that is not `key=value`, as written.
pub fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .split_once('=')
                .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
                .filter(|(key, value)| !key.is_empty() && !value.is_empty())
                .ok_or_else(|| entry.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairs_list_is_read_entry_by_entry_and_a_malformed_entry_is_named() {
        assert_eq!(
            pairs(" a=1, b = https://x/y ,,"),
            Ok(vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "https://x/y".to_owned())
            ])
        );
        assert_eq!(pairs(""), Ok(vec![]));
        assert_eq!(pairs("a=1,b"), Err("b".to_owned()));
        assert_eq!(pairs("=1"), Err("=1".to_owned()));
    }

    #[test]
    fn a_lookup_answers_what_the_process_environment_would() {
        // Given a lookup that knows one variable, and another it knows as empty
        let lookup = |name: &str| match name {
            "STOCK_TABLE" => Some("stock".to_owned()),
            "EMPTY_TABLE" => Some(String::new()),
            _ => None,
        };

        // When each variable is required
        let set = required_from(&lookup, "STOCK_TABLE", "stock per SKU");
        let empty = required_from(&lookup, "EMPTY_TABLE", "nothing");
        let unset = required_from(&lookup, "EVENT_BUS_NAME", "the bus");

        // Then the set one is read, and empty and unset ones are missing, by name
        assert_eq!(set, Ok("stock".to_owned()));
        assert_eq!(
            empty,
            Err(MissingVariable {
                name: "EMPTY_TABLE",
                purpose: "nothing"
            })
        );
        assert_eq!(
            unset.map_err(|e| e.to_string()),
            Err("environment variable EVENT_BUS_NAME must be set (the bus)".to_owned())
        );
    }
}
