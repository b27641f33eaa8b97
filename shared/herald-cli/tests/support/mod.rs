//! Helpers shared by herald-cli's integration tests; a test file includes them with `mod support;`.

// Each test binary compiles the whole module but uses only part of it.
#[allow(dead_code)]
pub mod browser;
