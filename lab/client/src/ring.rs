//! The ketama ring of contract section 7, as the Arcus Java client builds it: 160 points per node
//! (for r in 0..40 the four little-endian u32 words of MD5(`"<ip>:<port>-<r>"`)), a key served by
//! the node of the first point ≥ the little-endian u32 of MD5(key)'s first four bytes, wrapping;
//! a point shared by several nodes belongs to the node whose `ip:port` string is smallest.
//! Lookups are a binary search in one sorted vector.

use std::sync::Arc;

use md5::{Digest, Md5};

/// Rounds of MD5 per node; each gives four points.
pub const ROUNDS: u32 = 40;
/// Points per node.
pub const POINTS_PER_NODE: usize = 4 * ROUNDS as usize;

/// A ring of nodes (`ip:port` strings). Immutable: a change of membership makes a new ring.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    /// The nodes, sorted by their `ip:port` string, without duplicates.
    nodes: Vec<Arc<str>>,
    /// (point, index into `nodes`), sorted by point; one entry per distinct point, owned by the
    /// smallest node string that has it.
    points: Vec<(u32, u32)>,
}

impl Ring {
    /// The ring of `nodes` (each `ip:port`; duplicates count once).
    pub fn new<I, S>(nodes: I) -> Ring
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut nodes: Vec<Arc<str>> = nodes.into_iter().map(|n| Arc::from(n.as_ref())).collect();
        nodes.sort();
        nodes.dedup();
        let mut points = Vec::with_capacity(nodes.len() * POINTS_PER_NODE);
        for (index, node) in nodes.iter().enumerate() {
            points.extend(node_points(node).into_iter().map(|p| (p, index as u32)));
        }
        // Sorted by point, then by node index = by node string: the first of each point wins.
        points.sort_unstable();
        points.dedup_by_key(|(point, _)| *point);
        Ring { nodes, points }
    }

    /// The nodes, sorted by their `ip:port` string.
    pub fn nodes(&self) -> &[Arc<str>] {
        &self.nodes
    }

    /// Whether the ring has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether `node` is on the ring.
    pub fn contains(&self, node: &str) -> bool {
        self.nodes.binary_search_by(|n| n.as_ref().cmp(node)).is_ok()
    }

    /// The node that serves `key` (its UTF-8 bytes), or None on an empty ring.
    pub fn node_for(&self, key: &[u8]) -> Option<&Arc<str>> {
        self.index_for(key).map(|i| &self.nodes[i])
    }

    /// The index into [`nodes`](Self::nodes) of the node that serves `key`.
    pub fn index_for(&self, key: &[u8]) -> Option<usize> {
        self.index_for_hash(key_hash(key))
    }

    /// The index of the node of the first point ≥ `hash`, wrapping past the largest point.
    pub fn index_for_hash(&self, hash: u32) -> Option<usize> {
        if self.points.is_empty() {
            return None;
        }
        let at = self.points.partition_point(|(point, _)| *point < hash);
        let (_, node) = self.points[if at == self.points.len() { 0 } else { at }];
        Some(node as usize)
    }
}

/// The hash of a key on the ring: the little-endian u32 of MD5(key)'s first four bytes.
pub fn key_hash(key: &[u8]) -> u32 {
    let digest = Md5::digest(key);
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// One node's 160 points in insertion order: point `4 * r + h` is the little-endian u32 of
/// MD5(`"<node>-<r>"`)'s bytes `4h..4h+4`.
pub fn node_points(node: &str) -> [u32; POINTS_PER_NODE] {
    let mut points = [0u32; POINTS_PER_NODE];
    for r in 0..ROUNDS {
        let digest = Md5::digest(format!("{node}-{r}").as_bytes());
        for h in 0..4 {
            let at = 4 * h;
            points[(4 * r) as usize + h] =
                u32::from_le_bytes([digest[at], digest[at + 1], digest[at + 2], digest[at + 3]]);
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ring_serves_nothing() {
        assert_eq!(Ring::new(Vec::<String>::new()).node_for(b"k"), None);
    }

    #[test]
    fn duplicates_count_once() {
        let ring = Ring::new(["10.0.0.1:11211", "10.0.0.1:11211"]);
        assert_eq!(ring.nodes().len(), 1);
        assert_eq!(ring.points.len(), POINTS_PER_NODE);
        assert!(ring.contains("10.0.0.1:11211"));
        assert!(!ring.contains("10.0.0.2:11211"));
    }
}
