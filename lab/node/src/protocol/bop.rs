//! `bop` (ch08) on one b+tree: create, insert, upsert, update, delete, get, count, incr, decr,
//! position, pwg, gbp. `bop mget` and `bop smget`, which read many trees, are in
//! [`super::bop_multi`].

use std::io::Write;

use crate::coll::bkey::{Bkey, BkeyRange};
use crate::coll::btree::{Btree, Elem};
use crate::coll::eflag::{Eflag, Filter, Update};
use crate::coll::{num, Elems, Fail, Kind};

use super::elems::{create, create_tail, vlen_of, Cmd, BAD_FORMAT};
use super::{Reply, Step, KEY_MAX};

/// `<bkey> [0x<eflag>] <bytes> <data>\r\n`
pub(crate) fn write_elem(out: &mut Vec<u8>, k: &Bkey, e: &Elem) {
    k.write(out);
    if let Some(f) = &e.eflag {
        out.push(b' ');
        num::hex(f, out);
    }
    let _ = write!(out, " {} ", e.value.len());
    out.extend_from_slice(&e.value);
    out.extend_from_slice(b"\r\n");
}

fn btree(elems: &mut Elems) -> Result<&mut Btree, Fail> {
    match elems {
        Elems::Btree(b) => Ok(b),
        _ => Err(Fail::TypeMismatch),
    }
}

/// A single bkey (not a range).
fn single_bkey(t: &[u8]) -> Option<Bkey> {
    BkeyRange::parse(t).filter(|r| r.to.is_none()).map(|r| r.from)
}

fn order(t: &[u8]) -> Option<bool> {
    match t {
        b"asc" => Some(true),
        b"desc" => Some(false),
        _ => None,
    }
}

pub(crate) fn run(cmd: &mut Cmd, r: &mut Reply) -> Step {
    let t = cmd.tokens;
    let n = t.len();
    if matches!(t[1], b"mget" | b"smget") && (6..=13).contains(&n) {
        return super::bop_multi::run(cmd, r);
    }
    if t[2].len() > KEY_MAX {
        r.line(BAD_FORMAT);
        return cmd.done();
    }
    match t[1] {
        b"insert" | b"upsert" if (5..=13).contains(&n) => insert(cmd, r),
        b"create" if (6..=9).contains(&n) => {
            create(cmd, Kind::Btree, r);
            cmd.done()
        }
        b"update" if (5..=9).contains(&n) => update(cmd, r),
        b"delete" if (4..=12).contains(&n) => {
            delete(cmd, r);
            cmd.done()
        }
        b"incr" | b"decr" if (5..=8).contains(&n) => {
            arith(cmd, r);
            cmd.done()
        }
        b"get" if (4..=12).contains(&n) => {
            get(cmd, r);
            cmd.done()
        }
        b"count" if (4..=9).contains(&n) => {
            count(cmd, r);
            cmd.done()
        }
        b"position" if n == 5 => {
            let (Some(k), Some(asc)) = (single_bkey(t[3]), order(t[4])) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let res = cmd.with_coll(t[2], Kind::Btree, None, |c, _| {
                if !c.attr.readable {
                    return Err(Fail::Unreadable);
                }
                btree(&mut c.elems)?.position(&k, asc)
            });
            match res {
                Ok((p, _)) => r.line(&format!("POSITION={p}")),
                Err(f) => r.line(f.reply()),
            }
            cmd.done()
        }
        b"pwg" if n == 5 || n == 6 => {
            pwg(cmd, r);
            cmd.done()
        }
        b"gbp" if n == 5 => {
            gbp(cmd, r);
            cmd.done()
        }
        _ => {
            r.line(BAD_FORMAT);
            cmd.done()
        }
    }
}

fn insert(cmd: &mut Cmd, r: &mut Reply) -> Step {
    let t = cmd.tokens;
    let n = t.len();
    r.pipe_or_noreply(t[n - 1]);
    let getrim = !r.noreply && t[n - 1] == b"getrim";
    let mut i = 3;
    let bkey = Bkey::parse(t[i]);
    i += 1;
    let mut eflag: Option<Option<Eflag>> = Some(None);
    if n > 5 && t[i].starts_with(b"0x") {
        eflag = num::parse_hex(t[i]).map(Some);
        i += 1;
    }
    let (Some(bkey), Some(eflag)) = (bkey, eflag) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    let Some(vlen) = t.get(i).and_then(|v| vlen_of(v)) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    i += 1;
    let end = n - (r.noreply || getrim) as usize;
    let Ok(create) = create_tail(t.get(i..end).unwrap_or(&[]), Kind::Btree) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    if i > end {
        r.line(BAD_FORMAT);
        return cmd.done();
    }
    let value = match cmd.element_data(vlen, r) {
        Ok(v) => v,
        Err(step) => return step,
    };
    let upsert = t[1] == b"upsert";
    let limits = &cmd.state.coll_limits;
    let res = cmd.with_coll(t[2], Kind::Btree, create.as_ref(), |c, meta| {
        let limit = c.limit(limits);
        let b = btree(&mut c.elems)?;
        if b.len() == 0 && c.attr.maxbkeyrange.as_ref().is_some_and(|m| !m.same_kind(&bkey)) {
            return Err(Fail::BkeyMismatch);
        }
        let done = b.insert(&mut c.attr, limit, bkey, Elem { eflag, value: value.into() }, upsert)?;
        Ok((done, meta.flags))
    });
    match res {
        Ok(((done, flags), created)) => match done.trimmed {
            Some((k, e)) if getrim => {
                let _ = write!(r.out, "VALUE {flags} 1\r\n");
                write_elem(r.out, &k, &e);
                r.line("TRIMMED");
            }
            _ if done.replaced => r.line("REPLACED"),
            _ if created => r.line("CREATED_STORED"),
            _ => r.line("STORED"),
        },
        Err(f) => r.line(f.reply()),
    }
    cmd.done_data(vlen)
}

fn update(cmd: &mut Cmd, r: &mut Reply) -> Step {
    let t = cmd.tokens;
    let n = t.len();
    r.pipe_or_noreply(t[n - 1]);
    let Some(bkey) = single_bkey(t[3]) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    let end = n - r.noreply as usize;
    let rest = &t[4..end.max(4)];
    let (eflag, vlen_tok) = match rest {
        [v] => (None, v),
        [e, v] => {
            // `0x..` or `0` (remove the eflag)
            let u = if e.starts_with(b"0x") {
                Update::parse(&[e])
            } else {
                num::parse_i32(e).filter(|&z| z == 0).and_then(|_| Update::parse(&[b"0"]))
            };
            (Some(u), v)
        }
        [o, op, e, v] if e.starts_with(b"0x") => (Some(Update::parse(&[o, op, e])), v),
        _ => {
            r.line(BAD_FORMAT);
            return cmd.done();
        }
    };
    let eflag = match eflag {
        Some(None) => {
            r.line(BAD_FORMAT);
            return cmd.done();
        }
        Some(Some(u)) => Some(u),
        None => None,
    };
    let Some(vlen) = num::parse_i32(vlen_tok).filter(|v| (-1..=i32::MAX - 2).contains(v)) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    let value = if vlen == -1 {
        if !r.pipe_may_run() {
            return cmd.done();
        }
        if eflag.is_none() {
            r.line("NOTHING_TO_UPDATE");
            return cmd.done();
        }
        None
    } else {
        match cmd.element_data(vlen as usize, r) {
            Ok(v) => Some(v),
            Err(step) => return step,
        }
    };
    let res = cmd.with_coll(t[2], Kind::Btree, None, |c, _| btree(&mut c.elems)?.update(&bkey, eflag.as_ref(), value));
    match res {
        Ok(_) => r.line("UPDATED"),
        Err(f) => r.line(f.reply()),
    }
    match value {
        Some(v) => cmd.done_data(v.len()),
        None => cmd.done(),
    }
}

/// Parses `[<eflag_filter>]` at the front of `t` (a filter only when its third token is hex).
fn filter_of(t: &[&[u8]]) -> Result<(Option<Filter>, usize), ()> {
    match Filter::parse(t)? {
        Some((f, used)) => Ok((Some(f), used)),
        None => Ok((None, 0)),
    }
}

fn delete(cmd: &mut Cmd, r: &mut Reply) {
    let t = cmd.tokens;
    let n = t.len();
    r.pipe_or_noreply(t[n - 1]);
    let Some(range) = BkeyRange::parse(t[3]) else {
        return r.line(BAD_FORMAT);
    };
    let end = n - r.noreply as usize;
    let mut rest = &t[4..end.max(4)];
    let mut filter = None;
    if rest.len() >= 3 {
        match filter_of(rest) {
            Ok((f, used)) => {
                filter = f;
                rest = &rest[used..];
            }
            Err(()) => return r.line(BAD_FORMAT),
        }
    }
    let mut drop = false;
    if rest.last().is_some_and(|l| *l == b"drop") {
        drop = true;
        rest = &rest[..rest.len() - 1];
    }
    let count = match rest {
        [] => 0,
        [c] => match num::parse_u32(c) {
            Some(c) => c,
            None => return r.line(BAD_FORMAT),
        },
        _ => return r.line(BAD_FORMAT),
    };
    if !r.pipe_may_run() {
        return;
    }
    let res = cmd.with_coll(t[2], Kind::Btree, None, |c, meta| {
        let b = btree(&mut c.elems)?;
        b.delete(&range, filter.as_ref(), count as usize)?;
        meta.unlink = drop && b.len() == 0;
        Ok(meta.unlink)
    });
    match res {
        Ok((true, _)) => r.line("DELETED_DROPPED"),
        Ok((false, _)) => r.line("DELETED"),
        Err(f) => r.line(f.reply()),
    }
}

fn arith(cmd: &mut Cmd, r: &mut Reply) {
    let t = cmd.tokens;
    let n = t.len();
    r.pipe_or_noreply(t[n - 1]);
    let incr = t[1] == b"incr";
    let (Some(bkey), Some(delta)) = (single_bkey(t[3]), num::parse_u64(t[4]).filter(|&d| d >= 1)) else {
        return r.line(BAD_FORMAT);
    };
    let end = n - r.noreply as usize;
    let init = match &t[5..end.max(5)] {
        [] => None,
        [i] => match num::parse_u64(i) {
            Some(i) => Some((i, None)),
            None => return r.line(BAD_FORMAT),
        },
        [i, e] => match (num::parse_u64(i), num::parse_hex(e)) {
            (Some(i), Some(e)) => Some((i, Some(e))),
            _ => return r.line(BAD_FORMAT),
        },
        _ => return r.line(BAD_FORMAT),
    };
    if !r.pipe_may_run() {
        return;
    }
    let limits = &cmd.state.coll_limits;
    let res = cmd.with_coll(t[2], Kind::Btree, None, |c, _| {
        let limit = c.limit(limits);
        let b = btree(&mut c.elems)?;
        b.arith(&mut c.attr, limit, &bkey, incr, delta, init.clone())
    });
    match res {
        Ok((v, _)) => r.line(&v.to_string()),
        Err(f) => r.line(f.reply()),
    }
}

fn get(cmd: &mut Cmd, r: &mut Reply) {
    let t = cmd.tokens;
    let Some(range) = BkeyRange::parse(t[3]) else {
        return r.line(BAD_FORMAT);
    };
    let mut rest = &t[4..];
    let mut filter = None;
    if rest.len() >= 3 && rest[2].starts_with(b"0x") {
        match filter_of(rest) {
            Ok((f, used)) => {
                filter = f;
                rest = &rest[used..];
            }
            Err(()) => return r.line(BAD_FORMAT),
        }
    }
    let (mut delete, mut drop) = (false, false);
    if let Some(last) = rest.last() {
        if *last == b"delete" || *last == b"drop" {
            delete = true;
            drop = *last == b"drop";
            rest = &rest[..rest.len() - 1];
        }
    }
    let (offset, count) = match rest {
        [] => (0, 0),
        [c] => match num::parse_u32(c) {
            Some(c) => (0, c),
            None => return r.line(BAD_FORMAT),
        },
        [o, c] => match (num::parse_u32(o), num::parse_u32(c)) {
            (Some(o), Some(c)) => (o, c),
            _ => return r.line(BAD_FORMAT),
        },
        _ => return r.line(BAD_FORMAT),
    };
    let res = cmd.with_coll(t[2], Kind::Btree, None, |c, meta| {
        if !c.attr.readable {
            return Err(Fail::Unreadable);
        }
        let attr = c.attr.clone();
        let b = btree(&mut c.elems)?;
        let found = b.get(&attr, &range, filter.as_ref(), offset as usize, count as usize, delete)?;
        meta.unlink = drop && b.len() == 0;
        Ok((found, meta.flags, meta.unlink))
    });
    match res {
        Ok(((found, flags, dropped), _)) => {
            let _ = write!(r.out, "VALUE {flags} {}\r\n", found.elems.len());
            for (k, e) in &found.elems {
                write_elem(r.out, k, e);
            }
            r.line(match (delete, dropped, found.trimmed) {
                (true, true, _) => "DELETED_DROPPED",
                (true, false, _) => "DELETED",
                (false, _, true) => "TRIMMED",
                (false, _, false) => "END",
            });
        }
        Err(f) => r.line(f.reply()),
    }
}

fn count(cmd: &mut Cmd, r: &mut Reply) {
    let t = cmd.tokens;
    let Some(range) = BkeyRange::parse(t[3]) else {
        return r.line(BAD_FORMAT);
    };
    let rest = &t[4..];
    let mut filter = None;
    if rest.len() >= 3 {
        match filter_of(rest) {
            Ok((f, used)) if used == rest.len() => filter = f,
            _ => return r.line(BAD_FORMAT),
        }
    } else if !rest.is_empty() {
        return r.line(BAD_FORMAT);
    }
    let res = cmd.with_coll(t[2], Kind::Btree, None, |c, _| {
        if !c.attr.readable {
            return Err(Fail::Unreadable);
        }
        btree(&mut c.elems)?.count(&range, filter.as_ref())
    });
    match res {
        Ok((c, _)) => r.line(&format!("COUNT={c}")),
        Err(f) => r.line(f.reply()),
    }
}

fn pwg(cmd: &mut Cmd, r: &mut Reply) {
    let t = cmd.tokens;
    let (Some(k), Some(asc)) = (single_bkey(t[3]), order(t[4])) else {
        return r.line(BAD_FORMAT);
    };
    let count = match t.get(5) {
        None => 0,
        Some(c) => match num::parse_u32(c) {
            Some(c) if c > 100 => return r.line("CLIENT_ERROR too large count value"),
            Some(c) => c as usize,
            None => return r.line(BAD_FORMAT),
        },
    };
    let res = cmd.with_coll(t[2], Kind::Btree, None, |c, meta| {
        if !c.attr.readable {
            return Err(Fail::Unreadable);
        }
        let b = btree(&mut c.elems)?;
        let pos = b.position(&k, asc)?;
        let index = pos.min(count);
        let last = (pos + count).min(b.len() - 1);
        let elems = b.by_position(pos - index, last, asc)?;
        Ok((pos, index, elems, meta.flags))
    });
    match res {
        Ok(((pos, index, elems, flags), _)) => {
            let _ = write!(r.out, "VALUE {pos} {flags} {} {index}\r\n", elems.len());
            for (k, e) in &elems {
                write_elem(r.out, k, e);
            }
            r.line("END");
        }
        Err(f) => r.line(f.reply()),
    }
}

fn gbp(cmd: &mut Cmd, r: &mut Reply) {
    let t = cmd.tokens;
    let Some(asc) = order(t[3]) else {
        return r.line(BAD_FORMAT);
    };
    let range = match memchr::memmem::find(t[4], b"..") {
        Some(i) => num::parse_u32(&t[4][..i]).zip(num::parse_u32(&t[4][i + 2..])),
        None => num::parse_u32(t[4]).map(|p| (p, p)),
    };
    let Some((from, to)) = range else {
        return r.line(BAD_FORMAT);
    };
    let res = cmd.with_coll(t[2], Kind::Btree, None, |c, meta| {
        if !c.attr.readable {
            return Err(Fail::Unreadable);
        }
        let elems = btree(&mut c.elems)?.by_position(from as usize, to as usize, asc)?;
        Ok((elems, meta.flags))
    });
    match res {
        Ok(((elems, flags), _)) => {
            let _ = write!(r.out, "VALUE {flags} {}\r\n", elems.len());
            for (k, e) in &elems {
                write_elem(r.out, k, e);
            }
            r.line("END");
        }
        Err(f) => r.line(f.reply()),
    }
}
