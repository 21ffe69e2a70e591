//! memcached: the reference Arcus cache node.
fn main() {}
