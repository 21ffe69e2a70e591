//! `getattr` and `setattr` (ch10): item attributes of key-value items and collections.

use std::fmt::Write as _;

use crate::coll::bkey::Bkey;
use crate::coll::{num, Attr, Elems, Kind, Ovfl};
use crate::store::{now, STICKY};

use super::elems::{Cmd, BAD_FORMAT};
use super::{Reply, KEY_MAX};

const NAMES: &[&str] = &[
    "flags",
    "expiretime",
    "type",
    "count",
    "maxcount",
    "overflowaction",
    "readable",
    "maxbkeyrange",
    "minbkey",
    "maxbkey",
    "trimmed",
];

/// Seconds left (memcached's lefttime): 0 never, -1 sticky.
fn left(exptime: u32) -> i64 {
    match exptime {
        0 => 0,
        STICKY => -1,
        e => e as i64 - now() as i64,
    }
}

pub(crate) fn getattr(cmd: &Cmd, r: &mut Reply) {
    let t = cmd.tokens;
    if t[1].len() > KEY_MAX {
        return r.line(BAD_FORMAT);
    }
    let mut asked: Vec<&str> = Vec::new();
    for name in &t[2..] {
        match NAMES.iter().find(|n| n.as_bytes() == *name) {
            Some(n) => asked.push(n),
            None => return r.line("ATTR_ERROR not found"),
        }
    }
    let limits = &cmd.state.coll_limits;
    let text = cmd.state.store.with_item(t[1], None, |item| {
        let item = item?;
        let kind = item.coll.as_ref().map(|c| c.kind());
        let only_coll = ["count", "maxcount", "overflowaction", "readable"];
        let only_btree = ["maxbkeyrange", "trimmed"];
        let bad = asked.iter().any(|a| match kind {
            None => only_coll.contains(a) || only_btree.contains(a),
            Some(Kind::Btree) => false,
            Some(_) => only_btree.contains(a),
        });
        if bad {
            return Some(Err(()));
        }
        let names: Vec<&str> = if asked.is_empty() {
            let mut all = vec!["type", "flags", "expiretime"];
            if kind.is_some() {
                all.extend(["count", "maxcount", "overflowaction", "readable"]);
            }
            if kind == Some(Kind::Btree) {
                all.extend(["maxbkeyrange", "minbkey", "maxbkey", "trimmed"]);
            }
            all
        } else {
            asked.clone()
        };
        let mut s = String::new();
        for name in names {
            let _ = write!(s, "ATTR {name}=");
            let coll = item.coll.as_deref();
            let btree = coll.and_then(|c| match &c.elems {
                Elems::Btree(b) => Some(b),
                _ => None,
            });
            let bkey = |b: Option<&Bkey>| b.map_or("-1".to_string(), Bkey::to_text);
            let _ = match (name, coll) {
                ("type", _) => write!(s, "{}", kind.map_or("kv", Kind::name)),
                ("flags", _) => write!(s, "{}", item.flags),
                ("expiretime", _) => write!(s, "{}", left(item.exptime)),
                ("count", Some(c)) => write!(s, "{}", c.count()),
                ("maxcount", Some(c)) => write!(s, "{}", c.limit(limits)),
                ("overflowaction", Some(c)) => write!(s, "{}", c.attr.ovfl.name()),
                ("readable", Some(c)) => write!(s, "{}", if c.attr.readable { "on" } else { "off" }),
                ("maxbkeyrange", Some(c)) => {
                    write!(s, "{}", c.attr.maxbkeyrange.as_ref().map_or("0".into(), Bkey::to_text))
                }
                ("trimmed", Some(c)) => write!(s, "{}", c.attr.trimmed as u8),
                ("minbkey", _) => write!(s, "{}", bkey(btree.and_then(|b| b.min()))),
                ("maxbkey", _) => write!(s, "{}", bkey(btree.and_then(|b| b.max()))),
                _ => Ok(()),
            };
            s.push_str("\r\n");
        }
        s.push_str("END");
        Some(Ok(s))
    });
    match text {
        None => r.line("NOT_FOUND"),
        Some(Err(())) => r.line("ATTR_ERROR not found"),
        Some(Ok(s)) => r.line(&s),
    }
}

/// One `name=value` of setattr.
enum Set {
    Expire(i64),
    Maxcount(i32),
    Ovfl(&'static [u8]),
    Readable,
    Maxbkeyrange(Option<Bkey>),
}

pub(crate) fn setattr(cmd: &Cmd, r: &mut Reply) {
    let t = cmd.tokens;
    if t[1].len() > KEY_MAX {
        return r.line(BAD_FORMAT);
    }
    let mut sets = Vec::new();
    for tok in &t[2..] {
        let Some(eq) = tok.iter().position(|&b| b == b'=') else {
            return r.line(BAD_FORMAT);
        };
        let (name, value) = (&tok[..eq], &tok[eq + 1..]);
        let set = match name {
            b"expiretime" => num::parse_i64(value).map(Set::Expire),
            b"maxcount" => num::parse_i32(value).map(Set::Maxcount),
            b"overflowaction" => [
                "error",
                "head_trim",
                "tail_trim",
                "smallest_trim",
                "largest_trim",
                "smallest_silent_trim",
                "largest_silent_trim",
            ]
            .iter()
            .find(|n| n.as_bytes() == value)
            .map(|n| Set::Ovfl(n.as_bytes())),
            b"readable" => (value == b"on").then_some(Set::Readable),
            b"maxbkeyrange" => Bkey::parse(value).map(|b| Set::Maxbkeyrange(Some(b).filter(|b| *b != Bkey::Uint(0)))),
            _ => return r.line("ATTR_ERROR not found"),
        };
        match set {
            Some(s) => sets.push(s),
            None => return r.line("ATTR_ERROR bad value"),
        }
    }
    let store = &cmd.state.store;
    let limits = &cmd.state.coll_limits;
    let res = store.with_item(t[1], None, |item| {
        let item = item.ok_or("NOT_FOUND")?;
        let mut new_exptime = None;
        for s in &sets {
            if let Set::Expire(e) = s {
                let e = store.expiry(*e);
                // sticky items stay sticky and others cannot become so
                if (item.exptime == STICKY) != (e == STICKY) {
                    return Err("ATTR_ERROR bad value");
                }
                new_exptime = Some(e);
            }
        }
        match item.coll.as_deref_mut() {
            None => {
                if sets.iter().any(|s| !matches!(s, Set::Expire(_))) {
                    return Err("ATTR_ERROR not found");
                }
            }
            Some(c) => {
                let kind = c.kind();
                if kind != Kind::Btree && sets.iter().any(|s| matches!(s, Set::Maxbkeyrange(_))) {
                    return Err("ATTR_ERROR not found");
                }
                let mut attr = c.attr.clone();
                for s in &sets {
                    match s {
                        Set::Expire(_) => {}
                        Set::Maxcount(m) => {
                            let m = Attr::real_maxcount(*m, limits.max_size(kind));
                            if m > 0 && (m as usize) < c.count() {
                                return Err("ATTR_ERROR bad value");
                            }
                            attr.maxcount = m;
                        }
                        Set::Ovfl(name) => {
                            let o = Ovfl::parse(name, kind).ok_or("ATTR_ERROR bad value")?;
                            if o != attr.ovfl {
                                attr.trimmed = false;
                            }
                            attr.ovfl = o;
                        }
                        Set::Readable => attr.readable = true,
                        Set::Maxbkeyrange(range) => {
                            if let (Some(range), Elems::Btree(b)) = (range, &c.elems) {
                                if let (Some(min), Some(max)) = (b.min(), b.max()) {
                                    if !range.same_kind(min) {
                                        return Err("ATTR_ERROR bad value");
                                    }
                                    if Bkey::exceeds(max, min, range) {
                                        return Err("ATTR_ERROR bad value");
                                    }
                                }
                            }
                            attr.maxbkeyrange = range.clone();
                        }
                    }
                }
                c.attr = attr;
            }
        }
        if let Some(e) = new_exptime {
            item.exptime = e;
        }
        Ok(())
    });
    match res {
        Ok(()) => r.line("OK"),
        Err(line) => r.line(line),
    }
}
