//! arcus: the admin tool (port of arcus.sh).
fn main() {}
