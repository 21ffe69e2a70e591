//! List collections (ch05): elements in order, reached by index from the head (0, 1, ...) or
//! the tail (-1, -2, ...).

use std::collections::VecDeque;

use super::{Attr, Fail, Ovfl, ELEM_OVERHEAD};

#[derive(Default)]
pub struct List {
    elems: VecDeque<Box<[u8]>>,
    bytes: usize,
}

fn charge(v: &[u8]) -> usize {
    v.len() + ELEM_OVERHEAD
}

impl List {
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// `lop insert`: at `index` (negative from the tail); a full list trims as its overflow
    /// action says (inserting at 0 or -1 trims the other end).
    pub fn insert(&mut self, attr: &Attr, limit: usize, index: i32, value: &[u8]) -> Result<(), Fail> {
        let count = self.elems.len() as i64;
        let (mut index, limit_i) = (index as i64, limit as i64);
        if index >= 0 {
            if index > count || index > limit_i - 1 {
                return Err(Fail::OutOfRange);
            }
        } else if -index > count + 1 || -index > limit_i {
            return Err(Fail::OutOfRange);
        }
        if self.elems.len() >= limit {
            if attr.ovfl == Ovfl::Error {
                return Err(Fail::Overflowed);
            }
            if index == 0 || index == -1 {
                if index == -1 {
                    self.remove(0);
                } else {
                    self.remove(self.elems.len() - 1);
                }
            } else if attr.ovfl == Ovfl::HeadTrim {
                self.remove(0);
                if index > 0 {
                    index -= 1;
                }
            } else {
                self.remove(self.elems.len() - 1);
                if index < 0 {
                    index += 1;
                }
            }
        }
        let count = self.elems.len() as i64;
        if index < 0 {
            index = (index + count + 1).max(0);
        }
        let at = (index as usize).min(self.elems.len());
        self.bytes += charge(value);
        self.elems.insert(at, value.into());
        Ok(())
    }

    fn remove(&mut self, i: usize) -> Option<Box<[u8]>> {
        let v = self.elems.remove(i)?;
        self.bytes -= charge(&v);
        Some(v)
    }

    /// Clamps `from..to` to the list as arcus-memcached does; None when it misses the list.
    fn adjust(&self, mut from: i64, mut to: i64) -> Option<(usize, usize)> {
        let n = self.elems.len() as i64;
        if n == 0 {
            return None;
        }
        if from < 0 {
            from += n;
        }
        if to < 0 {
            to += n;
        }
        if from < 0 {
            if to < 0 {
                return None;
            }
            from = 0;
        } else if from >= n {
            if to >= n {
                return None;
            }
            from = n - 1;
        }
        to = to.clamp(0, n - 1);
        Some((from as usize, to as usize))
    }

    /// `lop get`: the elements from..to (backwards when from > to), removed if `delete`.
    pub fn get(&mut self, from: i32, to: i32, delete: bool) -> Result<Vec<Box<[u8]>>, Fail> {
        let (from, to) = self.adjust(from as i64, to as i64).ok_or(Fail::NotFoundElement)?;
        let (lo, hi) = (from.min(to), from.max(to));
        let mut out: Vec<Box<[u8]>> = if delete {
            let drained: Vec<_> = self.elems.drain(lo..=hi).collect();
            self.bytes -= drained.iter().map(|v| charge(v)).sum::<usize>();
            drained
        } else {
            self.elems.range(lo..=hi).cloned().collect()
        };
        if from > to {
            out.reverse();
        }
        Ok(out)
    }

    /// `lop delete`: removes from..to; the count removed.
    pub fn delete(&mut self, from: i32, to: i32) -> Result<usize, Fail> {
        Ok(self.get(from, to, true)?.len())
    }
}
