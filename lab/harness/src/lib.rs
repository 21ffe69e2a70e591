//! arcus-lab: the engine behind `cargo xtask lab` and the conformance suite.
