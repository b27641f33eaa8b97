//! What EventBridge accepts but is probably not what the author meant: [`Lint`]s are found while a
//! pattern is parsed and never refuse it (a rule that EventBridge accepts must work locally too);
//! `herald catalog check` prints them as warnings.

use std::fmt;

/// A suspicious part of a valid pattern, with its place.
///
/// Displays as `path: message`, for example
/// `detail.ip: the CIDR "10.0.0.1/24" has bits set after its prefix length; EventBridge ignores
/// them (it matches 10.0.0.0/24)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// Dotted path of the field in the pattern (`$or` alternatives appear as `$or[i]`).
    path: String,
    kind: LintKind,
}

/// What is suspicious.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LintKind {
    /// A `cidr` block with bits set after its prefix length (`10.0.0.1/24`): EventBridge ignores
    /// them, so the block is the network around that address, probably not what was meant.
    CidrHostBits {
        /// The block as written.
        cidr: String,
    },
    /// A `wildcard` without an unescaped `*`: it matches only the string itself.
    WildcardWithoutStar {
        /// The wildcard as written.
        wildcard: String,
    },
    /// A case-insensitive matcher holding a character outside the Basic Multilingual Plane (an
    /// emoji, say): EventBridge's engine folds case per UTF-16 unit and turns each half of such a
    /// character into `?`, so it matches `??` and never the character.
    IgnoreCaseAstral {
        /// The operand as written.
        value: String,
    },
}

impl Lint {
    pub(crate) fn new(path: String, kind: LintKind) -> Self {
        Self { path, kind }
    }

    /// The dotted path in the pattern (`""` for the pattern as a whole).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is suspicious at [`path`](Self::path).
    pub fn kind(&self) -> &LintKind {
        &self.kind
    }
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "(root)" } else { &self.path };
        write!(f, "{path}: {}", self.kind)
    }
}

impl fmt::Display for LintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LintKind::CidrHostBits { cidr } => write!(
                f,
                "the CIDR {cidr:?} has bits set after its prefix length; EventBridge ignores them and matches \
                 the whole network"
            ),
            LintKind::WildcardWithoutStar { wildcard } => write!(
                f,
                "the wildcard {wildcard:?} has no unescaped `*`, so it matches only that exact string"
            ),
            LintKind::IgnoreCaseAstral { value } => write!(
                f,
                "{value:?} holds a character outside the Basic Multilingual Plane, which EventBridge's \
                 case-insensitive matching never matches (each half of it only matches `?`)"
            ),
        }
    }
}
