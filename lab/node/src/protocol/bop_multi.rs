//! `bop mget` and `bop smget` (ch08): one bkey range read from many b+trees, given as a key
//! list line after the command. mget answers per key; smget merges the trees' elements in bkey
//! order (1.15.0's `ELEMENTS`/`MISSED_KEYS`/`TRIMMED_KEYS` reply with `duplicate|unique`, the
//! older `VALUE`/`MISSED_KEYS` one without).

use std::io::Write;

use crate::coll::bkey::{Bkey, BkeyRange};
use crate::coll::btree::Elem;
use crate::coll::eflag::Filter;
use crate::coll::{num, Elems, Fail};

use super::bop::write_elem;
use super::elems::{split_names, Cmd, Data, BAD_FORMAT};
use super::{Reply, Step, KEY_MAX};

const MGET_MAX_KEYS: u32 = 200;
const MGET_MAX_COUNT: u32 = 50;
const SMGET_MAX_KEYS: u32 = 10000;
const SMGET_MAX_WANTED: u32 = 2000;

struct Request<'a> {
    range: BkeyRange,
    filter: Option<Filter>,
    offset: usize,
    count: usize,
    keys: Vec<&'a [u8]>,
}

/// Why one key gave no elements to smget.
#[derive(Clone, Copy)]
enum Missed {
    NotFound,
    Unreadable,
    OutOfRange,
}

pub(crate) fn run(cmd: &mut Cmd, r: &mut Reply) -> Step {
    let t = cmd.tokens;
    let n = t.len();
    let smget = t[1] == b"smget";
    // 1: duplicate, 2: unique, 0: the old interface
    let mode = match (smget, t[n - 1]) {
        (true, b"duplicate") => 1,
        (true, b"unique") => 2,
        _ => 0,
    };
    let (Some(len), Some(numkeys)) = (num::parse_u32(t[2]), num::parse_u32(t[3])) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    if len > u32::MAX - 2 || len == 0 || numkeys == 0 {
        r.line(BAD_FORMAT);
        return cmd.done();
    }
    let Some(range) = BkeyRange::parse(t[4]) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    let mut rest = &t[5..n - (mode > 0) as usize];
    let mut filter = None;
    if rest.len() > 3 {
        match Filter::parse(rest) {
            Ok(Some((f, used))) => {
                filter = Some(f);
                rest = &rest[used..];
            }
            Ok(None) => {}
            Err(()) => {
                r.line(BAD_FORMAT);
                return cmd.done();
            }
        }
    }
    let (offset, count) = match rest {
        [c] => (Some(0), num::parse_u32(c)),
        [o, c] => (num::parse_u32(o), num::parse_u32(c)),
        _ => (None, None),
    };
    let (Some(offset), Some(count)) = (offset, count) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    let (l, k) = (len as u64, numkeys as u64);
    let bad = k > l / 2 + 1
        || l > k * KEY_MAX as u64 + k - 1
        || count == 0
        || (!smget && (numkeys > MGET_MAX_KEYS || count > MGET_MAX_COUNT))
        || (smget && (numkeys > SMGET_MAX_KEYS || offset + count > SMGET_MAX_WANTED));
    if bad {
        return cmd.refuse_data(len as usize, "CLIENT_ERROR bad value", r);
    }
    let len = len as usize;
    let line = match cmd.data(len, r) {
        Data::Ready(d) => d,
        Data::Not(step) => return step,
    };
    let Some(keys) = split_names(line, numkeys as usize, KEY_MAX, true) else {
        r.line("CLIENT_ERROR bad data chunk");
        return cmd.done_data(len);
    };
    let req = Request { range, filter, offset: offset as usize, count: count as usize, keys };
    if smget {
        smerge(cmd, &req, mode, r);
    } else {
        mget(cmd, &req, r);
    }
    cmd.done_data(len)
}

fn mget(cmd: &Cmd, req: &Request, r: &mut Reply) {
    for key in &req.keys {
        let res = cmd.with_coll(key, crate::coll::Kind::Btree, None, |c, meta| {
            if !c.attr.readable {
                return Err(Fail::Unreadable);
            }
            let attr = c.attr.clone();
            let Elems::Btree(b) = &mut c.elems else { return Err(Fail::TypeMismatch) };
            let found = b.get(&attr, &req.range, req.filter.as_ref(), req.offset, req.count, false)?;
            Ok((found, meta.flags))
        });
        r.out.extend_from_slice(b"VALUE ");
        r.out.extend_from_slice(key);
        match res {
            Ok(((found, flags), _)) => {
                let status = if found.trimmed { "TRIMMED" } else { "OK" };
                let _ = write!(r.out, " {status} {flags} {}\r\n", found.elems.len());
                for (k, e) in &found.elems {
                    r.out.extend_from_slice(b"ELEMENT ");
                    write_elem(r.out, k, e);
                }
            }
            Err(f) => {
                let _ = write!(r.out, " {}\r\n", f.reply());
            }
        }
    }
    r.line("END");
}

/// One element of the merge: the bkey, its key's index, the key's flags, the element.
type Hit = (Bkey, usize, u32, Elem);

fn smerge(cmd: &Cmd, req: &Request, mode: u8, r: &mut Reply) {
    let wanted = req.offset + req.count;
    let desc = req.range.descending();
    let mut hits: Vec<Hit> = Vec::new();
    let mut missed: Vec<(usize, Missed)> = Vec::new();
    // per key: its last element in range, when its scan ran into trimmed space
    let mut trims: Vec<(usize, Bkey, usize)> = Vec::new();
    for (i, key) in req.keys.iter().enumerate() {
        let res = cmd.with_coll(key, crate::coll::Kind::Btree, None, |c, meta| {
            if !c.attr.readable {
                return Ok(None);
            }
            let Elems::Btree(b) = &c.elems else { return Err(Fail::TypeMismatch) };
            if b.len() == 0 {
                return Ok(Some((Vec::new(), false, false, meta.flags)));
            }
            let s = b.scan(&c.attr, &req.range, req.filter.as_ref(), wanted)?;
            Ok(Some((s.elems, s.start_trimmed, s.end_trimmed, meta.flags)))
        });
        match res {
            Err(Fail::NotFound) => missed.push((i, Missed::NotFound)),
            Err(f) => return r.line(f.reply()),
            Ok((None, _)) => missed.push((i, Missed::Unreadable)),
            Ok((Some((elems, start, end, flags)), _)) => {
                if start {
                    if mode == 0 {
                        return r.line("OUT_OF_RANGE");
                    }
                    missed.push((i, Missed::OutOfRange));
                    continue;
                }
                if end {
                    if let Some((k, _)) = elems.last() {
                        trims.push((i, k.clone(), elems.len()));
                    }
                }
                hits.extend(elems.into_iter().map(|(k, e)| (k, i, flags, e)));
            }
        }
    }
    let keys = &req.keys;
    // a key given twice whose tree has elements would merge the tree with itself: arcus-memcached
    // refuses the list then
    let mut with_hits: Vec<&[u8]> = hits.iter().map(|h| keys[h.1]).collect();
    with_hits.sort_unstable();
    with_hits.dedup();
    if with_hits.iter().any(|k| keys.iter().filter(|x| *x == k).count() > 1) {
        return r.line("CLIENT_ERROR bad data chunk");
    }
    hits.sort_by(|a, b| {
        let by_bkey = if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) };
        let by_key = if desc { keys[b.1].cmp(keys[a.1]) } else { keys[a.1].cmp(keys[b.1]) };
        by_bkey.then(by_key)
    });
    let mut out: Vec<&Hit> = Vec::new();
    let mut used = vec![0usize; keys.len()];
    let (mut skipped, mut duplicated) = (0, false);
    let mut prev: Option<&Bkey> = None;
    // the old interface stops before the first element past the end of a trimmed tree whose
    // elements it took all of (what follows may be incomplete); elements of the same bkey still come
    let mut cut = false;
    let past = |bkey: &Bkey, end: &Bkey| if desc { bkey < end } else { bkey > end };
    for h in &hits {
        if mode == 0 && trims.iter().any(|(i, end, n)| used[*i] >= *n && past(&h.0, end)) {
            cut = true;
            break;
        }
        let dup = prev == Some(&h.0);
        prev = Some(&h.0);
        used[h.1] += 1;
        if dup && mode == 2 {
            continue;
        }
        if skipped < req.offset {
            skipped += 1;
            continue;
        }
        if dup && (mode == 0 || !out.is_empty()) {
            duplicated = true;
        }
        out.push(h);
        if out.len() >= req.count {
            break;
        }
    }
    // a key's trim counts once the merge took all it had
    let full = out.len() >= req.count;
    let mut trimmed: Vec<&(usize, Bkey, usize)> = trims
        .iter()
        .filter(|(i, _, n)| used[*i] >= *n)
        .filter(|(_, k, _)| {
            !full
                || match out.last() {
                    Some(last) => {
                        if desc {
                            *k > last.0
                        } else {
                            *k < last.0
                        }
                    }
                    None => true,
                }
        })
        .collect();
    trimmed.sort_by(|a, b| if desc { b.1.cmp(&a.1) } else { a.1.cmp(&b.1) }.then(keys[a.0].cmp(keys[b.0])));
    let head = if mode == 0 { "VALUE" } else { "ELEMENTS" };
    let _ = write!(r.out, "{head} {}\r\n", out.len());
    for (k, i, flags, e) in &out {
        r.out.extend_from_slice(keys[*i]);
        let _ = write!(r.out, " {flags} ");
        write_elem(r.out, k, e);
    }
    let _ = write!(r.out, "MISSED_KEYS {}\r\n", missed.len());
    for (i, why) in &missed {
        r.out.extend_from_slice(keys[*i]);
        if mode > 0 {
            r.out.extend_from_slice(match why {
                Missed::NotFound => b" NOT_FOUND",
                Missed::Unreadable => b" UNREADABLE",
                Missed::OutOfRange => b" OUT_OF_RANGE",
            });
        }
        r.out.extend_from_slice(b"\r\n");
    }
    if mode == 0 {
        let trim = cut || !trimmed.is_empty();
        return r.line(match (duplicated, trim) {
            (true, true) => "DUPLICATED_TRIMMED",
            (false, true) => "TRIMMED",
            (true, false) => "DUPLICATED",
            (false, false) => "END",
        });
    }
    let _ = write!(r.out, "TRIMMED_KEYS {}\r\n", trimmed.len());
    for (i, k, _) in &trimmed {
        r.out.extend_from_slice(keys[*i]);
        r.out.push(b' ');
        k.write(r.out);
        r.out.extend_from_slice(b"\r\n");
    }
    r.line(if duplicated { "DUPLICATED" } else { "END" });
}
