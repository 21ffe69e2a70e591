//! B+tree collections (ch08): elements sorted by bkey, each with an optional eflag. Backed by
//! std's `BTreeMap`, so a range read is O(log n + k); positions are counted by walking (O(n)).
//! The overflow rules (maxcount and maxbkeyrange, the trims, the `trimmed` mark that makes a read
//! reaching the trimmed side answer `TRIMMED` or `OUT_OF_RANGE`) follow arcus-memcached's.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::bkey::{Bkey, BkeyRange};
use super::eflag::{Eflag, Filter, Update};
use super::{Attr, Fail, Ovfl, ELEM_OVERHEAD};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elem {
    pub eflag: Option<Eflag>,
    pub value: Box<[u8]>,
}

#[derive(Default)]
pub struct Btree {
    elems: BTreeMap<Bkey, Elem>,
    bytes: usize,
}

fn charge(k: &Bkey, e: &Elem) -> usize {
    k.size() + e.eflag.as_ref().map_or(0, |f| f.len()) + e.value.len() + ELEM_OVERHEAD
}

/// What `bop insert`/`upsert` did besides storing.
#[derive(Debug, Default)]
pub struct Inserted {
    pub replaced: bool,
    /// the element an overflow trimmed (for `getrim`)
    pub trimmed: Option<(Bkey, Elem)>,
}

/// One tree's part of a `bop smget`.
pub struct Scan {
    pub elems: Vec<(Bkey, Elem)>,
    /// the range starts in trimmed space (the key is reported OUT_OF_RANGE)
    pub start_trimmed: bool,
    /// the read ran on into trimmed space (the key is reported trimmed)
    pub end_trimmed: bool,
}

/// A read's result: the elements and whether the range reached into trimmed space.
pub struct Found {
    pub elems: Vec<(Bkey, Elem)>,
    pub trimmed: bool,
}

impl Btree {
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn min(&self) -> Option<&Bkey> {
        self.elems.keys().next()
    }

    pub fn max(&self) -> Option<&Bkey> {
        self.elems.keys().next_back()
    }

    /// The tree holds integer bkeys (None when empty).
    pub fn uint_keys(&self) -> Option<bool> {
        self.min().map(Bkey::is_uint)
    }

    /// BKEY_MISMATCH when the key's kind differs from the tree's.
    pub fn check_kind(&self, k: &Bkey) -> Result<(), Fail> {
        match self.uint_keys() {
            Some(u) if u != k.is_uint() => Err(Fail::BkeyMismatch),
            _ => Ok(()),
        }
    }

    fn put(&mut self, k: Bkey, e: Elem) -> Option<Elem> {
        self.bytes += charge(&k, &e);
        let old = self.elems.insert(k.clone(), e);
        if let Some(o) = &old {
            self.bytes -= charge(&k, o);
        }
        old
    }

    fn take(&mut self, k: &Bkey) -> Option<Elem> {
        let e = self.elems.remove(k)?;
        self.bytes -= charge(k, &e);
        Some(e)
    }

    /// `bop insert` (replace = upsert).
    pub fn insert(&mut self, attr: &mut Attr, limit: usize, k: Bkey, e: Elem, replace: bool) -> Result<Inserted, Fail> {
        self.check_kind(&k)?;
        if self.elems.contains_key(&k) {
            if !replace {
                return Err(Fail::ElementExists);
            }
            self.put(k, e);
            return Ok(Inserted { replaced: true, trimmed: None });
        }
        let mut range_trim = false;
        if let (Some(min), Some(max), Some(range)) =
            (self.min().cloned(), self.max().cloned(), attr.maxbkeyrange.clone())
        {
            let smallest = matches!(attr.ovfl, Ovfl::SmallestTrim | Ovfl::SmallestSilentTrim);
            let largest = matches!(attr.ovfl, Ovfl::LargestTrim | Ovfl::LargestSilentTrim);
            if k < min && Bkey::exceeds(&max, &k, &range) {
                if !largest {
                    return Err(Fail::OutOfRange);
                }
                range_trim = true;
            } else if k > max && Bkey::exceeds(&k, &min, &range) {
                if !smallest {
                    return Err(Fail::OutOfRange);
                }
                range_trim = true;
            }
        }
        let mut count_trim = false;
        if !range_trim && self.elems.len() >= limit {
            match attr.ovfl {
                Ovfl::Error => return Err(Fail::Overflowed),
                Ovfl::SmallestTrim | Ovfl::SmallestSilentTrim => {
                    if self.min().is_some_and(|m| k < *m) {
                        if attr.ovfl == Ovfl::SmallestTrim {
                            attr.trimmed = true;
                        }
                        return Err(Fail::OutOfRange);
                    }
                }
                _ => {
                    if self.max().is_some_and(|m| k > *m) {
                        if attr.ovfl == Ovfl::LargestTrim {
                            attr.trimmed = true;
                        }
                        return Err(Fail::OutOfRange);
                    }
                }
            }
            count_trim = true;
        }
        let range = attr.maxbkeyrange.clone();
        self.put(k.clone(), e);
        let mut out = Inserted::default();
        let smallest = matches!(attr.ovfl, Ovfl::SmallestTrim | Ovfl::SmallestSilentTrim);
        let loud = matches!(attr.ovfl, Ovfl::SmallestTrim | Ovfl::LargestTrim);
        if range_trim {
            let range = range.unwrap_or(Bkey::Uint(0));
            // drop the far side's elements out of range of the new one
            loop {
                let victim = if smallest { self.min().cloned() } else { self.max().cloned() };
                let Some(v) = victim else { break };
                let out = if smallest { Bkey::exceeds(&k, &v, &range) } else { Bkey::exceeds(&v, &k, &range) };
                if !out {
                    break;
                }
                self.take(&v);
            }
            if loud {
                attr.trimmed = false;
            }
        } else if count_trim {
            let victim = if smallest { self.min().cloned() } else { self.max().cloned() };
            if let Some(v) = victim {
                let e = self.take(&v);
                out.trimmed = e.map(|e| (v, e));
            }
            if loud {
                attr.trimmed = true;
            }
        }
        Ok(out)
    }

    /// The bkeys in the range in its direction.
    fn keys_in<'a>(&'a self, r: &BkeyRange) -> Box<dyn Iterator<Item = (&'a Bkey, &'a Elem)> + 'a> {
        let (lo, hi) = r.bounds();
        let it = self.elems.range::<Bkey, _>((Bound::Included(lo), Bound::Included(hi)));
        if r.descending() {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// Whether a read of `r` that ran to its end (`ran_out`) overlaps the space a loud trim
    /// emptied, as arcus-memcached tells it.
    fn overlaps_trimmed(&self, attr: &Attr, r: &BkeyRange, ran_out: bool) -> bool {
        if !attr.trimmed {
            return false;
        }
        let (Some(min), Some(max)) = (self.min(), self.max()) else { return false };
        match attr.ovfl {
            Ovfl::SmallestTrim => {
                if r.is_single() {
                    r.from < *min
                } else if r.descending() {
                    ran_out && *r.to() < *min
                } else {
                    r.from < *min
                }
            }
            Ovfl::LargestTrim => {
                if r.is_single() || r.descending() {
                    r.from > *max
                } else {
                    ran_out && *r.to() > *max
                }
            }
            _ => false,
        }
    }

    /// For `bop smget`, the elements of one tree in the range (no offset, at most `count`) and
    /// how the range meets the trimmed space.
    pub fn scan(&self, attr: &Attr, r: &BkeyRange, filter: Option<&Filter>, count: usize) -> Result<Scan, Fail> {
        self.check_kind(&r.from)?;
        let mut elems = Vec::new();
        let mut ran_out = true;
        let mut any = false;
        for (k, e) in self.keys_in(r) {
            any = true;
            if filter.is_some_and(|f| !f.matches(e.eflag.as_deref())) {
                continue;
            }
            elems.push((k.clone(), e.clone()));
            if elems.len() >= count {
                ran_out = false;
                break;
            }
        }
        let (Some(min), Some(max)) = (self.min(), self.max()) else {
            return Ok(Scan { elems, start_trimmed: false, end_trimmed: false });
        };
        let desc = r.descending();
        let start = attr.trimmed
            && match attr.ovfl {
                Ovfl::SmallestTrim => (!desc && r.from < *min) || (!any && r.to() < min),
                Ovfl::LargestTrim => (desc && r.from > *max) || (!any && r.to() > max),
                _ => false,
            };
        let end = !start && any && self.overlaps_trimmed(attr, r, ran_out) && !(r.is_single());
        Ok(Scan { elems, start_trimmed: start, end_trimmed: end })
    }

    /// `bop get` (and `delete` with it): elements of the range passing the filter, skipping
    /// `offset`, at most `count` (0 = all).
    pub fn get(
        &mut self,
        attr: &Attr,
        r: &BkeyRange,
        filter: Option<&Filter>,
        offset: usize,
        count: usize,
        delete: bool,
    ) -> Result<Found, Fail> {
        if self.elems.is_empty() || offset >= self.elems.len() {
            return Err(Fail::NotFoundElement);
        }
        self.check_kind(&r.from)?;
        let mut elems = Vec::new();
        let mut skipped = 0;
        let mut ran_out = true;
        for (k, e) in self.keys_in(r) {
            if filter.is_some_and(|f| !f.matches(e.eflag.as_deref())) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            elems.push((k.clone(), e.clone()));
            if count > 0 && elems.len() >= count {
                ran_out = false;
                break;
            }
        }
        let trimmed = self.overlaps_trimmed(attr, r, ran_out);
        if elems.is_empty() {
            return Err(if trimmed { Fail::OutOfRange } else { Fail::NotFoundElement });
        }
        if delete {
            for (k, _) in &elems {
                self.take(k);
            }
        }
        Ok(Found { elems, trimmed: trimmed && !delete })
    }

    pub fn count(&self, r: &BkeyRange, filter: Option<&Filter>) -> Result<usize, Fail> {
        if self.elems.is_empty() {
            return Ok(0);
        }
        self.check_kind(&r.from)?;
        Ok(self.keys_in(r).filter(|(_, e)| filter.is_none_or(|f| f.matches(e.eflag.as_deref()))).count())
    }

    /// `bop delete`: the count removed.
    pub fn delete(&mut self, r: &BkeyRange, filter: Option<&Filter>, count: usize) -> Result<usize, Fail> {
        if self.elems.is_empty() {
            return Err(Fail::NotFoundElement);
        }
        self.check_kind(&r.from)?;
        let victims: Vec<Bkey> = self
            .keys_in(r)
            .filter(|(_, e)| filter.is_none_or(|f| f.matches(e.eflag.as_deref())))
            .map(|(k, _)| k.clone())
            .take(if count == 0 { usize::MAX } else { count })
            .collect();
        if victims.is_empty() {
            return Err(Fail::NotFoundElement);
        }
        for k in &victims {
            self.take(k);
        }
        Ok(victims.len())
    }

    /// `bop update`: a new eflag and/or value.
    pub fn update(&mut self, k: &Bkey, eflag: Option<&Update>, value: Option<&[u8]>) -> Result<(), Fail> {
        if self.elems.is_empty() {
            return Err(Fail::NotFoundElement);
        }
        self.check_kind(k)?;
        let old = self.elems.get(k).ok_or(Fail::NotFoundElement)?;
        let mut new = old.clone();
        if let Some(u) = eflag {
            new.eflag = u.apply(old.eflag.as_deref()).map_err(|()| Fail::EflagMismatch)?;
        }
        if let Some(v) = value {
            new.value = v.into();
        }
        self.put(k.clone(), new);
        Ok(())
    }

    /// `bop incr`/`decr`: the new value; a missing element is created with `init` if given.
    pub fn arith(
        &mut self,
        attr: &mut Attr,
        limit: usize,
        k: &Bkey,
        incr: bool,
        delta: u64,
        init: Option<(u64, Option<Eflag>)>,
    ) -> Result<u64, Fail> {
        if !self.elems.is_empty() {
            self.check_kind(k)?;
        }
        let Some(old) = self.elems.get(k) else {
            let Some((init, eflag)) = init else {
                return Err(Fail::NotFoundElement);
            };
            let e = Elem { eflag, value: init.to_string().into_bytes().into() };
            self.insert(attr, limit, k.clone(), e, false)?;
            return Ok(init);
        };
        let cur = std::str::from_utf8(&old.value)
            .ok()
            .filter(|s| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(Fail::NonNumeric)?;
        let new = if incr { cur.wrapping_add(delta) } else { cur.saturating_sub(delta) };
        let mut e = old.clone();
        e.value = new.to_string().into_bytes().into();
        self.put(k.clone(), e);
        Ok(new)
    }

    /// The 0-based position of `k` counted from the smallest (asc) or the largest (desc).
    pub fn position(&self, k: &Bkey, asc: bool) -> Result<usize, Fail> {
        if self.elems.is_empty() {
            return Err(Fail::NotFoundElement);
        }
        self.check_kind(k)?;
        if !self.elems.contains_key(k) {
            return Err(Fail::NotFoundElement);
        }
        let before = self.elems.range::<Bkey, _>((Bound::Unbounded, Bound::Excluded(k))).count();
        Ok(if asc { before } else { self.elems.len() - 1 - before })
    }

    /// `bop gbp`: positions from..=to (backwards when from > to).
    pub fn by_position(&self, from: usize, to: usize, asc: bool) -> Result<Vec<(Bkey, Elem)>, Fail> {
        let n = self.elems.len();
        if n == 0 || from.min(to) >= n {
            return Err(Fail::NotFoundElement);
        }
        let (lo, hi) = (from.min(to), from.max(to).min(n - 1));
        let mut out: Vec<(Bkey, Elem)> = if asc {
            self.elems.iter().skip(lo).take(hi - lo + 1).map(|(k, e)| (k.clone(), e.clone())).collect()
        } else {
            self.elems.iter().rev().skip(lo).take(hi - lo + 1).map(|(k, e)| (k.clone(), e.clone())).collect()
        };
        if from > to {
            out.reverse();
        }
        Ok(out)
    }
}
