//! Redrive's configuration: one immutable struct, read once at cold start.

use std::collections::BTreeMap;

use herald::env::{self, MissingVariable, required_from};

/// Default for [`Config::max_messages`].
pub const DEFAULT_MAX_MESSAGES: usize = 100;

/// Default for [`Config::max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Which queues redrive may empty, and how much per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `REDRIVE_QUEUES`: each consumer's error alarm name and its dead-letter queue URL, as
    /// `alarm=url` pairs separated by commas. Only these queues are ever redriven.
    pub queues: BTreeMap<String, String>,
    /// `EVENT_BUS_NAME`: the bus for dead letters that do not name one (Lambda's on-failure
    /// records); a rule's dead letter goes back to the bus in its `RULE_ARN`.
    pub bus_name: String,
    /// `REDRIVE_MAX_MESSAGES` (optional, default [`DEFAULT_MAX_MESSAGES`]): messages handled per
    /// run, so one run stays well inside the function's timeout; the alarm's next recovery, or
    /// `herald redrive`, takes the rest.
    pub max_messages: usize,
    /// `REDRIVE_MAX_ATTEMPTS` (optional, default [`DEFAULT_MAX_ATTEMPTS`]): how many times one
    /// event is redriven automatically; after that it is parked in its queue (whose alarm keeps
    /// paging) for a person to look at.
    pub max_attempts: u32,
}

/// Why redrive's configuration cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is missing.
    #[error(transparent)]
    Missing(#[from] MissingVariable),
    /// `REDRIVE_QUEUES` has an entry that is not `alarm=url`.
    #[error("REDRIVE_QUEUES: `{entry}` is not alarm=queue-url")]
    BadQueue {
        /// The entry.
        entry: String,
    },
    /// `REDRIVE_MAX_MESSAGES` is not a positive whole number.
    #[error("REDRIVE_MAX_MESSAGES: `{value}` is not a positive whole number")]
    BadMax {
        /// The value.
        value: String,
    },
    /// `REDRIVE_MAX_ATTEMPTS` is not a positive whole number.
    #[error("REDRIVE_MAX_ATTEMPTS: `{value}` is not a positive whole number")]
    BadAttempts {
        /// The value.
        value: String,
    },
}

impl Config {
    /// Reads every variable from the process environment, as `main.rs` does.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&env::process)
    }

    /// Reads every variable from `lookup`.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let queues = required_from(lookup, "REDRIVE_QUEUES", "alarm=dead-letter-queue-url pairs")?;
        let max_messages = match lookup("REDRIVE_MAX_MESSAGES") {
            None => DEFAULT_MAX_MESSAGES,
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::BadMax { value })?,
        };
        let max_attempts = match lookup("REDRIVE_MAX_ATTEMPTS") {
            None => DEFAULT_MAX_ATTEMPTS,
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::BadAttempts { value })?,
        };
        Ok(Self {
            queues: parse_queues(&queues)?,
            bus_name: required_from(lookup, "EVENT_BUS_NAME", "the bus dead letters go back to")?,
            max_messages,
            max_attempts,
        })
    }
}

fn parse_queues(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    Ok(env::pairs(text)
        .map_err(|entry| ConfigError::BadQueue { entry })?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_queues_are_read_as_alarm_url_pairs_with_a_default_bound() -> Result<(), ConfigError> {
        let config = Config::from_lookup(&lookup(&[
            (
                "REDRIVE_QUEUES",
                "shop-inventory-errors=https://q/1, shop-billing-errors=https://q/2",
            ),
            ("EVENT_BUS_NAME", "shop-dev"),
        ]))?;
        assert_eq!(
            config.queues.get("shop-billing-errors").map(String::as_str),
            Some("https://q/2")
        );
        assert_eq!(config.queues.len(), 2);
        assert_eq!(config.max_messages, DEFAULT_MAX_MESSAGES);
        assert_eq!(config.max_attempts, DEFAULT_MAX_ATTEMPTS);
        Ok(())
    }

    #[test]
    fn a_malformed_entry_or_bound_is_named() {
        let bad_queue = Config::from_lookup(&lookup(&[("REDRIVE_QUEUES", "no-url"), ("EVENT_BUS_NAME", "b")]));
        assert_eq!(
            bad_queue.err().map(|e| e.to_string()).as_deref(),
            Some("REDRIVE_QUEUES: `no-url` is not alarm=queue-url")
        );
        let bad_max = Config::from_lookup(&lookup(&[
            ("REDRIVE_QUEUES", "a=b"),
            ("EVENT_BUS_NAME", "b"),
            ("REDRIVE_MAX_MESSAGES", "0"),
        ]));
        assert!(matches!(bad_max, Err(ConfigError::BadMax { .. })));
        let bad_attempts = Config::from_lookup(&lookup(&[
            ("REDRIVE_QUEUES", "a=b"),
            ("EVENT_BUS_NAME", "b"),
            ("REDRIVE_MAX_ATTEMPTS", "never"),
        ]));
        assert_eq!(
            bad_attempts.err().map(|e| e.to_string()).as_deref(),
            Some("REDRIVE_MAX_ATTEMPTS: `never` is not a positive whole number")
        );
    }
}
