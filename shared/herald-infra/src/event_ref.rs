//! One event version as the catalog names it: `source/DetailType/vN`
//! (`events/<source>/<DetailType>/v<N>`), the form of every `emits` and `consumes` entry.

use std::fmt;

/// One event version a function declares it consumes or publishes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventRef {
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// Schema version (`detail.metadata.schema_version`), from 1.
    pub version: u32,
}

impl EventRef {
    /// Parses `source/DetailType/vN`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let (source, detail_type, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || source.is_empty() || detail_type.is_empty() {
            return None;
        }
        let version = version.strip_prefix('v')?.parse().ok().filter(|n| *n > 0)?;
        Some(Self {
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
            version,
        })
    }
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/v{}", self.source, self.detail_type, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reference_is_source_detail_type_and_version() {
        // Given a catalog path and some near misses
        let parsed = EventRef::parse("shop.inventory/StockReserved/v1");
        // Then the path round-trips and the near misses are refused
        assert_eq!(
            parsed.as_ref().map(ToString::to_string).as_deref(),
            Some("shop.inventory/StockReserved/v1")
        );
        for wrong in [
            "shop.inventory/StockReserved",
            "a/b/1",
            "a/b/v0",
            "/b/v1",
            "a/b/v1/x",
            "a/b/vx",
        ] {
            assert!(EventRef::parse(wrong).is_none(), "{wrong}");
        }
    }
}
