//! Timing profiles (contract section 8): one enum for the whole workspace, in `arcus-facts`, with
//! every deadline derived from it.

pub use arcus_facts::Timing;
