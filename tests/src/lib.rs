//! The conformance suite: scenarios as tests (see tests/scenarios.rs).
