//! Set collections (ch06): unique values without order.

use hashbrown::HashSet;

use super::{Attr, Fail, ELEM_OVERHEAD};

#[derive(Default)]
pub struct Set {
    elems: HashSet<Box<[u8]>>,
    bytes: usize,
}

impl Set {
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn insert(&mut self, _attr: &Attr, limit: usize, value: &[u8]) -> Result<(), Fail> {
        // a full set answers OVERFLOWED before it looks for the value, as arcus-memcached
        if self.elems.len() >= limit {
            return Err(Fail::Overflowed);
        }
        if self.elems.contains(value) {
            return Err(Fail::ElementExists);
        }
        self.bytes += value.len() + ELEM_OVERHEAD;
        self.elems.insert(value.into());
        Ok(())
    }

    pub fn delete(&mut self, value: &[u8]) -> bool {
        let gone = self.elems.remove(value);
        if gone {
            self.bytes -= value.len() + ELEM_OVERHEAD;
        }
        gone
    }

    pub fn contains(&self, value: &[u8]) -> bool {
        self.elems.contains(value)
    }

    /// `sop get`: `count` elements (0 = all), removed if `delete`.
    pub fn get(&mut self, count: usize, delete: bool) -> Vec<Box<[u8]>> {
        let n = if count == 0 { self.elems.len() } else { count.min(self.elems.len()) };
        let out: Vec<Box<[u8]>> = self.elems.iter().take(n).cloned().collect();
        if delete {
            for v in &out {
                self.delete(v);
            }
        }
        out
    }
}
