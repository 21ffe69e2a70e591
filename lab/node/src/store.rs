//! The item store: sharded hash tables with one LRU list per shard, a global memory limit,
//! memcached's expiry rules, cas uniques and the arithmetic of incr/decr.
//!
//! Hand-written rather than built on a cache crate: memcached's commands need read-modify-write
//! under one lock (cas, append, incr), an exact byte limit that holds at every insert, and a small
//! per-item overhead; see the commit that introduced this file for the measurement.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::coll::CollItem;
use std::hash::BuildHasher;

/// Relative expiry times above this many seconds are absolute unix times (memcached's rule).
const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;
/// Bytes charged per item beyond key and value: entry, table slot and allocator overhead.
const ITEM_OVERHEAD: usize = 64;
const SHARDS: usize = 64;
const NIL: u32 = u32::MAX;
/// The expiry of a sticky item (exptime -1): never.
pub const STICKY: u32 = u32::MAX;

/// Seconds since the unix epoch.
pub fn now() -> u32 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or(0)
}

/// How a storage command treats an existing item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    NotStored,
    Exists,
    NotFound,
    TooLarge,
    /// the key holds a collection
    TypeMismatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaError {
    NotFound,
    NonNumeric,
    TypeMismatch,
}

/// What a reader sees of an item while the shard is locked.
pub struct ItemRef<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub flags: u32,
    pub cas: u64,
}

/// An item as [`Store::with_item`] lends it: flags and exptime to read or change, the value of a
/// key-value item or the collection.
pub struct ItemMut<'a> {
    pub flags: u32,
    /// absolute unix time; 0 = never, [`STICKY`]
    pub exptime: u32,
    pub coll: Option<&'a mut CollItem>,
    /// the item was made for this call
    pub created: bool,
    /// set to remove the item afterwards
    pub unlink: bool,
}

#[derive(Default, Clone, Copy)]
pub struct StoreStats {
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    pub evictions: u64,
    pub limit_maxbytes: u64,
}

struct Entry {
    /// key followed by value
    data: Box<[u8]>,
    klen: u16,
    flags: u32,
    exptime: u32,
    time: u32,
    cas: u64,
    prev: u32,
    next: u32,
    /// a collection item's attributes and elements (its `data` is then the key alone)
    coll: Option<Box<CollItem>>,
}

impl Entry {
    fn key(&self) -> &[u8] {
        &self.data[..self.klen as usize]
    }
    fn value(&self) -> &[u8] {
        &self.data[self.klen as usize..]
    }
    fn charge(&self) -> usize {
        self.data.len() + ITEM_OVERHEAD + self.coll.as_ref().map_or(0, |c| c.bytes())
    }
}

#[derive(Default)]
struct Shard {
    table: HashTable<u32>,
    slots: Vec<Entry>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    items: u64,
}

impl Shard {
    fn new() -> Self {
        Shard { head: NIL, tail: NIL, ..Default::default() }
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.table.find(hash, |&i| self.slots[i as usize].key() == key).copied()
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = (self.slots[i as usize].prev, self.slots[i as usize].next);
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        let e = &mut self.slots[i as usize];
        e.prev = NIL;
        e.next = old;
        if old != NIL {
            self.slots[old as usize].prev = i;
        } else {
            self.tail = i;
        }
        self.head = i;
    }

    fn bump(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    /// Removes slot `i`; returns the bytes it was charged.
    fn remove(&mut self, hash_builder: &DefaultHashBuilder, i: u32) -> usize {
        let hash = hash_builder.hash_one(self.slots[i as usize].key());
        let found = self.table.find_entry(hash, |&j| j == i).ok().map(|e| e.remove());
        debug_assert!(found.is_some());
        self.unlink(i);
        let e = &mut self.slots[i as usize];
        let charge = e.charge();
        e.data = Box::default();
        self.free.push(i);
        self.items -= 1;
        charge
    }

    fn insert(&mut self, hash_builder: &DefaultHashBuilder, hash: u64, entry: Entry) -> u32 {
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = entry;
                i
            }
            None => {
                self.slots.push(entry);
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.table.insert_unique(hash, i, |&j| hash_builder.hash_one(slots[j as usize].key()));
        self.push_front(i);
        self.items += 1;
        i
    }
}

pub struct Store {
    shards: Box<[Mutex<Shard>]>,
    hasher: DefaultHashBuilder,
    limit: AtomicUsize,
    used: AtomicUsize,
    item_max: usize,
    next_cas: AtomicU64,
    /// memcached's settings.oldest_live for a delayed flush_all; 0 = none
    oldest_live: AtomicU32,
    started: u32,
    total_items: AtomicU64,
    evictions: AtomicU64,
}

enum Lookup {
    Live(u32),
    Missing,
}

impl Store {
    pub fn new(limit_bytes: usize, item_max: usize) -> Self {
        Store {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            hasher: DefaultHashBuilder::default(),
            limit: AtomicUsize::new(limit_bytes),
            used: AtomicUsize::new(0),
            item_max,
            next_cas: AtomicU64::new(1),
            oldest_live: AtomicU32::new(0),
            started: now(),
            total_items: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    pub fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// memcached's realtime(): 0 never expires, -1 is sticky (never expires, [`STICKY`]), other
    /// negatives are already expired, up to 30 days is relative, beyond is an absolute unix time.
    pub fn expiry(&self, exptime: i64) -> u32 {
        let now = now() as i64;
        let abs = if exptime == 0 {
            return 0;
        } else if exptime == -1 {
            return STICKY;
        } else if exptime < 0 {
            1
        } else if exptime > REALTIME_MAXDELTA {
            if exptime <= self.started as i64 {
                1
            } else {
                exptime
            }
        } else {
            now + exptime
        };
        abs.clamp(1, STICKY as i64 - 1) as u32
    }

    fn shard(&self, key: &[u8]) -> (u64, &Mutex<Shard>) {
        let hash = self.hasher.hash_one(key);
        (hash, &self.shards[(hash >> 58) as usize % SHARDS])
    }

    fn alive(&self, e: &Entry, now: u32) -> bool {
        if e.exptime != 0 && e.exptime <= now {
            return false;
        }
        let oldest = self.oldest_live.load(Ordering::Relaxed);
        !(oldest != 0 && oldest <= now && e.time <= oldest)
    }

    /// Finds a live item, dropping it on the way if it has expired or was flushed.
    fn lookup(&self, shard: &mut Shard, hash: u64, key: &[u8], now: u32) -> Lookup {
        match shard.find(hash, key) {
            Some(i) if self.alive(&shard.slots[i as usize], now) => Lookup::Live(i),
            Some(i) => {
                let freed = shard.remove(&self.hasher, i);
                self.used.fetch_sub(freed, Ordering::Relaxed);
                Lookup::Missing
            }
            None => Lookup::Missing,
        }
    }

    fn cas_id(&self) -> u64 {
        self.next_cas.fetch_add(1, Ordering::Relaxed)
    }

    /// Calls `f` with a live item; `touch` sets a new expiry first (gat).
    pub fn get<R>(&self, key: &[u8], touch: Option<i64>, f: impl FnOnce(ItemRef<'_>) -> R) -> Option<R> {
        let (hash, shard) = self.shard(key);
        let exp = touch.map(|t| self.expiry(t));
        let mut s = shard.lock().unwrap();
        let Lookup::Live(i) = self.lookup(&mut s, hash, key, now()) else {
            return None;
        };
        if s.slots[i as usize].coll.is_some() {
            return None;
        }
        s.bump(i);
        let e = &mut s.slots[i as usize];
        if let Some(exp) = exp {
            e.exptime = exp;
        }
        Some(f(ItemRef { key: e.key(), value: e.value(), flags: e.flags, cas: e.cas }))
    }

    pub fn too_large(&self, klen: usize, vlen: usize) -> bool {
        klen + vlen + ITEM_OVERHEAD > self.item_max
    }

    pub fn store(&self, mode: Mode, key: &[u8], flags: u32, exptime: i64, value: &[u8]) -> Outcome {
        let (hash, shard) = self.shard(key);
        let now = now();
        let exptime = self.expiry(exptime);
        let mut s = shard.lock().unwrap();
        let existing = match self.lookup(&mut s, hash, key, now) {
            Lookup::Live(i) => Some(i),
            Lookup::Missing => None,
        };
        if self.too_large(key.len(), value.len()) {
            // memcached drops the old item so that stale data does not outlive a failed store
            if let Some(i) = existing {
                let freed = s.remove(&self.hasher, i);
                self.used.fetch_sub(freed, Ordering::Relaxed);
            }
            return Outcome::TooLarge;
        }
        if existing.is_some_and(|i| s.slots[i as usize].coll.is_some()) {
            return Outcome::TypeMismatch;
        }
        let data: Box<[u8]> = match (mode, existing) {
            (Mode::Add, Some(i)) => {
                s.bump(i);
                return Outcome::NotStored;
            }
            (Mode::Replace | Mode::Append | Mode::Prepend, None) => return Outcome::NotStored,
            (Mode::Cas(_), None) => return Outcome::NotFound,
            (Mode::Cas(c), Some(i)) if s.slots[i as usize].cas != c => return Outcome::Exists,
            (Mode::Append, Some(i)) => {
                let old = &s.slots[i as usize];
                if self.too_large(key.len(), old.value().len() + value.len()) {
                    return Outcome::TooLarge;
                }
                [old.data.as_ref(), value].concat().into()
            }
            (Mode::Prepend, Some(i)) => {
                let old = &s.slots[i as usize];
                if self.too_large(key.len(), old.value().len() + value.len()) {
                    return Outcome::TooLarge;
                }
                [key, value, old.value()].concat().into()
            }
            _ => [key, value].concat().into(),
        };
        let (flags, exptime) = match (mode, existing) {
            (Mode::Append | Mode::Prepend, Some(i)) => (s.slots[i as usize].flags, s.slots[i as usize].exptime),
            _ => (flags, exptime),
        };
        if let Some(i) = existing {
            let freed = s.remove(&self.hasher, i);
            self.used.fetch_sub(freed, Ordering::Relaxed);
        }
        let entry = Entry {
            data,
            klen: key.len() as u16,
            flags,
            exptime,
            time: now,
            cas: self.cas_id(),
            prev: NIL,
            next: NIL,
            coll: None,
        };
        self.link(s, hash, entry);
        Outcome::Stored
    }

    /// Inserts a new entry and evicts least recently used items until the limit holds again.
    fn link(&self, mut s: std::sync::MutexGuard<'_, Shard>, hash: u64, entry: Entry) {
        let charge = entry.charge();
        let i = s.insert(&self.hasher, hash, entry);
        self.total_items.fetch_add(1, Ordering::Relaxed);
        let mut used = self.used.fetch_add(charge, Ordering::Relaxed) + charge;
        let limit = self.limit();
        // first this shard's own tail, then any other shard that is not busy
        while used > limit && s.tail != i && s.tail != NIL {
            let t = s.tail;
            used = self.evict(&mut s, t);
        }
        drop(s);
        let start = (hash as usize) % SHARDS;
        let mut misses = 0;
        let mut k = start;
        while used > limit && misses < SHARDS {
            k = (k + 1) % SHARDS;
            match self.shards[k].try_lock() {
                Ok(mut other) if other.tail != NIL => {
                    let t = other.tail;
                    used = self.evict(&mut other, t);
                    misses = 0;
                }
                _ => misses += 1,
            }
        }
    }

    fn evict(&self, s: &mut Shard, i: u32) -> usize {
        let freed = s.remove(&self.hasher, i);
        self.evictions.fetch_add(1, Ordering::Relaxed);
        self.used.fetch_sub(freed, Ordering::Relaxed) - freed
    }

    pub fn delete(&self, key: &[u8]) -> bool {
        let (hash, shard) = self.shard(key);
        let mut s = shard.lock().unwrap();
        match self.lookup(&mut s, hash, key, now()) {
            Lookup::Live(i) => {
                let freed = s.remove(&self.hasher, i);
                self.used.fetch_sub(freed, Ordering::Relaxed);
                true
            }
            Lookup::Missing => false,
        }
    }

    /// Runs `f` on the live item under `key` with its shard locked (None: no such item). With
    /// `create`, a missing key first gets a new collection item with these flags and exptime
    /// (`created` is then set). Afterwards the item's new size is charged, the item is removed if
    /// `f` set `unlink`, and other items are evicted if the limit is passed.
    pub fn with_item<R>(
        &self,
        key: &[u8],
        create: Option<(u32, i64, &dyn Fn() -> CollItem)>,
        f: impl FnOnce(Option<&mut ItemMut<'_>>) -> R,
    ) -> R {
        let (hash, shard) = self.shard(key);
        let now = now();
        let mut s = shard.lock().unwrap();
        let mut created = false;
        let i = match self.lookup(&mut s, hash, key, now) {
            Lookup::Live(i) => i,
            Lookup::Missing => match create {
                Some((flags, exptime, make)) => {
                    created = true;
                    let entry = Entry {
                        data: key.into(),
                        klen: key.len() as u16,
                        flags,
                        exptime: self.expiry(exptime),
                        time: now,
                        cas: self.cas_id(),
                        prev: NIL,
                        next: NIL,
                        coll: Some(Box::new(make())),
                    };
                    self.total_items.fetch_add(1, Ordering::Relaxed);
                    let charge = entry.charge();
                    self.used.fetch_add(charge, Ordering::Relaxed);
                    s.insert(&self.hasher, hash, entry)
                }
                None => return f(None),
            },
        };
        s.bump(i);
        let e = &mut s.slots[i as usize];
        let before = e.charge();
        let mut item =
            ItemMut { flags: e.flags, exptime: e.exptime, coll: e.coll.as_deref_mut(), created, unlink: false };
        let r = f(Some(&mut item));
        let (flags, exptime, unlink) = (item.flags, item.exptime, item.unlink);
        e.flags = flags;
        e.exptime = exptime;
        let after = e.charge();
        if unlink {
            let freed = s.remove(&self.hasher, i);
            self.used.fetch_sub(freed, Ordering::Relaxed);
            return r;
        }
        if after >= before {
            let used = self.used.fetch_add(after - before, Ordering::Relaxed) + (after - before);
            if used > self.limit() {
                self.evict_for(s, hash, i, used);
            }
        } else {
            self.used.fetch_sub(before - after, Ordering::Relaxed);
        }
        r
    }

    fn evict_for(&self, mut s: std::sync::MutexGuard<'_, Shard>, hash: u64, keep: u32, mut used: usize) {
        let limit = self.limit();
        while used > limit && s.tail != keep && s.tail != NIL {
            let t = s.tail;
            used = self.evict(&mut s, t);
        }
        drop(s);
        let start = (hash as usize) % SHARDS;
        let mut misses = 0;
        let mut k = start;
        while used > limit && misses < SHARDS {
            k = (k + 1) % SHARDS;
            match self.shards[k].try_lock() {
                Ok(mut other) if other.tail != NIL => {
                    let t = other.tail;
                    used = self.evict(&mut other, t);
                    misses = 0;
                }
                _ => misses += 1,
            }
        }
    }

    pub fn touch(&self, key: &[u8], exptime: i64) -> bool {
        self.get(key, Some(exptime), |_| ()).is_some()
    }

    /// incr/decr: 64-bit unsigned, incr wraps, decr floors at 0; the value must be a decimal
    /// number of at most 20 digits (leading spaces allowed, as strtoull does).
    pub fn delta(&self, key: &[u8], incr: bool, delta: u64) -> Result<u64, DeltaError> {
        let (hash, shard) = self.shard(key);
        let now = now();
        let mut s = shard.lock().unwrap();
        let Lookup::Live(i) = self.lookup(&mut s, hash, key, now) else {
            return Err(DeltaError::NotFound);
        };
        let e = &s.slots[i as usize];
        if e.coll.is_some() {
            return Err(DeltaError::TypeMismatch);
        }
        let current = parse_counter(e.value()).ok_or(DeltaError::NonNumeric)?;
        let new = if incr { current.wrapping_add(delta) } else { current.saturating_sub(delta) };
        let mut text = new.to_string().into_bytes();
        let old_len = e.value().len();
        if !incr && text.len() < old_len {
            // memcached rewrites a shrinking decr in place, padded with spaces
            text.resize(old_len, b' ');
        }
        let (flags, exptime) = (e.flags, e.exptime);
        let data: Box<[u8]> = [e.key(), &text].concat().into();
        let freed = s.remove(&self.hasher, i);
        self.used.fetch_sub(freed, Ordering::Relaxed);
        let entry = Entry {
            data,
            klen: key.len() as u16,
            flags,
            exptime,
            time: now,
            cas: self.cas_id(),
            prev: NIL,
            next: NIL,
            coll: None,
        };
        self.link(s, hash, entry);
        Ok(new)
    }

    /// flush_all: at once when `delay` is 0, else items stored before the deadline vanish then.
    pub fn flush(&self, delay: i64) {
        if delay > 0 {
            let at = self.expiry(delay);
            self.oldest_live.store(at.saturating_sub(1).max(1), Ordering::Relaxed);
            return;
        }
        self.oldest_live.store(0, Ordering::Relaxed);
        for shard in self.shards.iter() {
            let mut s = shard.lock().unwrap();
            let freed: usize = s.slots.iter().filter(|e| !e.data.is_empty()).map(Entry::charge).sum();
            *s = Shard::new();
            self.used.fetch_sub(freed, Ordering::Relaxed);
        }
    }

    pub fn stats(&self) -> StoreStats {
        let curr_items = self.shards.iter().map(|s| s.lock().unwrap().items).sum();
        StoreStats {
            curr_items,
            total_items: self.total_items.load(Ordering::Relaxed),
            bytes: self.used.load(Ordering::Relaxed) as u64,
            evictions: self.evictions.load(Ordering::Relaxed),
            limit_maxbytes: self.limit() as u64,
        }
    }
}

fn parse_counter(v: &[u8]) -> Option<u64> {
    let digits = std::str::from_utf8(v).ok()?.trim_start_matches([' ', '\t']);
    let digits = digits.trim_end_matches(' ');
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_oldest_and_limit_holds() {
        let store = Store::new(100 * (ITEM_OVERHEAD + 10), 1 << 20);
        for i in 0..1000u32 {
            let key = format!("k{i:04}");
            assert_eq!(store.store(Mode::Set, key.as_bytes(), 0, 0, b"12345"), Outcome::Stored);
        }
        let stats = store.stats();
        assert!(stats.bytes <= stats.limit_maxbytes, "{} > {}", stats.bytes, stats.limit_maxbytes);
        assert!(stats.evictions >= 900);
        assert!(store.get(b"k0999", None, |_| ()).is_some());
        assert!(store.get(b"k0000", None, |_| ()).is_none());
    }

    #[test]
    fn incr_wraps_and_decr_floors_and_pads() {
        let store = Store::new(1 << 20, 1 << 20);
        store.store(Mode::Set, b"n", 0, 0, b"18446744073709551615");
        assert_eq!(store.delta(b"n", true, 2), Ok(1));
        store.store(Mode::Set, b"n", 0, 0, b"10");
        assert_eq!(store.delta(b"n", false, 5), Ok(5));
        assert_eq!(store.get(b"n", None, |i| i.value.to_vec()), Some(b"5 ".to_vec()));
        assert_eq!(store.delta(b"n", false, 50), Ok(0));
        store.store(Mode::Set, b"x", 0, 0, b"12a");
        assert_eq!(store.delta(b"x", true, 1), Err(DeltaError::NonNumeric));
        assert_eq!(store.delta(b"y", true, 1), Err(DeltaError::NotFound));
    }

    #[test]
    fn negative_exptime_is_expired_and_cas_checks() {
        let store = Store::new(1 << 20, 1 << 20);
        store.store(Mode::Set, b"e", 0, -2, b"x");
        assert!(store.get(b"e", None, |_| ()).is_none());
        // -1 is sticky: it never expires
        assert_eq!(store.expiry(-1), STICKY);
        store.store(Mode::Set, b"c", 0, 0, b"x");
        let cas = store.get(b"c", None, |i| i.cas).unwrap();
        assert_eq!(store.store(Mode::Cas(cas + 100), b"c", 0, 0, b"y"), Outcome::Exists);
        assert_eq!(store.store(Mode::Cas(cas), b"c", 0, 0, b"y"), Outcome::Stored);
        assert_eq!(store.store(Mode::Cas(cas), b"zz", 0, 0, b"y"), Outcome::NotFound);
    }
}
