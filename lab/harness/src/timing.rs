//! Timing profiles (contract section 8): `fast` for tests (tickTime 500, sessions 1-10 s) and
//! `seed` as in the runbook (tickTime 2000, sessions 4-200 s), with every value derived from one.
//! They live in `arcus-facts`, shared with the admin tool; this path stays for the harness's users.

pub use arcus_facts::Timing;
