//! B+tree keys (ch02): an unsigned 64-bit integer or a byte array of 1 to 31 bytes written
//! `0x..`; a tree holds one kind. Byte arrays compare lexicographically, a shorter prefix first.

use std::cmp::Ordering;

use smallvec::SmallVec;

use super::num;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Bkey {
    Uint(u64),
    Bytes(SmallVec<[u8; 8]>),
}

impl Bkey {
    pub fn parse(t: &[u8]) -> Option<Bkey> {
        if t.starts_with(b"0x") {
            num::parse_hex(t).map(Bkey::Bytes)
        } else {
            num::parse_u64(t).map(Bkey::Uint)
        }
    }

    pub fn is_uint(&self) -> bool {
        matches!(self, Bkey::Uint(_))
    }

    pub fn same_kind(&self, other: &Bkey) -> bool {
        self.is_uint() == other.is_uint()
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Bkey::Uint(v) => out.extend_from_slice(v.to_string().as_bytes()),
            Bkey::Bytes(b) => num::hex(b, out),
        }
    }

    pub fn to_text(&self) -> String {
        let mut v = Vec::new();
        self.write(&mut v);
        String::from_utf8(v).unwrap_or_default()
    }

    /// Bytes charged for the key in an element.
    pub fn size(&self) -> usize {
        match self {
            Bkey::Uint(_) => 8,
            Bkey::Bytes(b) => b.len(),
        }
    }

    /// Whether `hi - lo` passes a maxbkeyrange, measured as arcus-memcached does: integers
    /// subtract; byte arrays subtract as big-endian numbers of the range's length (each cut or
    /// zero-padded on the right to it, wrapping). Keys of another kind than the range exceed it.
    pub fn exceeds(hi: &Bkey, lo: &Bkey, range: &Bkey) -> bool {
        match (hi, lo, range) {
            (Bkey::Uint(h), Bkey::Uint(l), Bkey::Uint(r)) => h.wrapping_sub(*l) > *r,
            (Bkey::Bytes(h), Bkey::Bytes(l), Bkey::Bytes(r)) => {
                let n = r.len();
                let fit = |v: &[u8]| {
                    let mut p = v[..v.len().min(n)].to_vec();
                    p.resize(n, 0);
                    p
                };
                let (h, l) = (fit(h), fit(l));
                let mut diff = vec![0u8; n];
                let mut borrow = 0i16;
                for i in (0..n).rev() {
                    let mut d = h[i] as i16 - l[i] as i16 - borrow;
                    borrow = (d < 0) as i16;
                    if d < 0 {
                        d += 256;
                    }
                    diff[i] = d as u8;
                }
                diff.as_slice() > r.as_slice()
            }
            _ => true,
        }
    }
}

impl PartialOrd for Bkey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bkey {
    /// Integers before byte arrays (a tree never mixes them).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Bkey::Uint(a), Bkey::Uint(b)) => a.cmp(b),
            (Bkey::Bytes(a), Bkey::Bytes(b)) => a.as_slice().cmp(b.as_slice()),
            (Bkey::Uint(_), Bkey::Bytes(_)) => Ordering::Less,
            (Bkey::Bytes(_), Bkey::Uint(_)) => Ordering::Greater,
        }
    }
}

/// `<bkey>` or `<bkey>..<bkey>`: from, and to when a range (descending when to < from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BkeyRange {
    pub from: Bkey,
    pub to: Option<Bkey>,
}

impl BkeyRange {
    pub fn parse(t: &[u8]) -> Option<BkeyRange> {
        match memchr::memmem::find(t, b"..") {
            Some(i) => {
                let (a, b) = (&t[..i], &t[i + 2..]);
                let (from, to) = (Bkey::parse(a)?, Bkey::parse(b)?);
                // both hex or both integers
                from.same_kind(&to).then_some(BkeyRange { from, to: Some(to) })
            }
            None => Some(BkeyRange { from: Bkey::parse(t)?, to: None }),
        }
    }

    pub fn is_single(&self) -> bool {
        self.to.as_ref().is_none_or(|t| *t == self.from)
    }

    pub fn to(&self) -> &Bkey {
        self.to.as_ref().unwrap_or(&self.from)
    }

    pub fn descending(&self) -> bool {
        *self.to() < self.from
    }

    /// (low, high) bounds, inclusive.
    pub fn bounds(&self) -> (&Bkey, &Bkey) {
        if self.descending() {
            (self.to(), &self.from)
        } else {
            (&self.from, self.to())
        }
    }
}
