//! `mop` (ch07): create, insert, upsert, update, delete, get on maps.

use std::io::Write;

use crate::coll::map::MAX_FIELD_LEN;
use crate::coll::{num, Elems, Fail, Kind};

use super::elems::{create, delete_or_drop, split_names, vlen_of, Cmd, Data, BAD_FORMAT};
use super::{Reply, Step, KEY_MAX};

/// `<lenfields> <numfields>`: Err(Some(len)) = a bad value whose field list is skipped,
/// Err(None) = bad format.
fn field_counts(cmd: &Cmd, a: &[u8], b: &[u8]) -> Result<(usize, usize), Option<usize>> {
    let (Some(len), Some(count)) = (num::parse_u32(a), num::parse_u32(b)) else {
        return Err(None);
    };
    if len > u32::MAX - 2 || ((len == 0 || count == 0) && len != count) {
        return Err(None);
    }
    let max_size = cmd.state.coll_limits.max_size(Kind::Map) as u64;
    let (l, c) = (len as u64, count as u64);
    if c > 0 && (l > c * MAX_FIELD_LEN as u64 + c - 1 || c > max_size || c > l / 2 + 1) {
        return Err(Some(len as usize));
    }
    Ok((len as usize, count as usize))
}

pub(crate) fn run(cmd: &mut Cmd, r: &mut Reply) -> Step {
    let t = cmd.tokens;
    let n = t.len();
    if t[2].len() > KEY_MAX {
        r.line(BAD_FORMAT);
        return cmd.done();
    }
    match t[1] {
        sub @ (b"insert" | b"upsert") if (5..=12).contains(&n) => {
            r.pipe_or_noreply(t[n - 1]);
            if t[3].len() > MAX_FIELD_LEN {
                r.line("CLIENT_ERROR too long field name");
                return cmd.done();
            }
            let Some(vlen) = vlen_of(t[4]) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let (create, value) = match cmd.create_and_element(5, Kind::Map, vlen, r) {
                Ok(got) => got,
                Err(step) => return step,
            };
            let upsert = sub == b"upsert";
            let limits = &cmd.state.coll_limits;
            let res = cmd.with_coll(t[2], Kind::Map, create.as_ref(), |c, _| {
                let limit = c.limit(limits);
                let Elems::Map(m) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                m.insert(&c.attr, limit, t[3], value, upsert)
            });
            match res {
                Ok((_, true)) => r.line("CREATED_STORED"),
                Ok((true, false)) => r.line("REPLACED"),
                Ok((false, false)) => r.line("STORED"),
                Err(f) => r.line(f.reply()),
            }
            cmd.done_data(vlen)
        }
        b"create" if (6..=9).contains(&n) => {
            create(cmd, Kind::Map, r);
            cmd.done()
        }
        b"update" if n == 5 || n == 6 => {
            r.pipe_or_noreply(t[n - 1]);
            if t[3].len() > MAX_FIELD_LEN {
                r.line("CLIENT_ERROR too long field name");
                return cmd.done();
            }
            let Some(vlen) = vlen_of(t[4]) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let value = match cmd.element_data(vlen, r) {
                Ok(v) => v,
                Err(step) => return step,
            };
            let res = cmd.with_coll(t[2], Kind::Map, None, |c, _| {
                let Elems::Map(m) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                m.update(t[3], value)
            });
            match res {
                Ok(_) => r.line("UPDATED"),
                Err(f) => r.line(f.reply()),
            }
            cmd.done_data(vlen)
        }
        b"delete" if (5..=7).contains(&n) => {
            r.pipe_or_noreply(t[n - 1]);
            let (len, count) = match field_counts(cmd, t[3], t[4]) {
                Ok(lc) => lc,
                Err(skip) => return bad_counts(cmd, skip, r),
            };
            let end = n - r.noreply as usize;
            let drop = match &t[5..end] {
                [] => false,
                [d] if *d == b"drop" => true,
                _ => {
                    r.line(BAD_FORMAT);
                    return cmd.done();
                }
            };
            let (fields, step) = match field_list(cmd, len, count, r) {
                Ok(fs) => fs,
                Err(step) => return step,
            };
            if !r.pipe_may_run() {
                return step;
            }
            let res = cmd.with_coll(t[2], Kind::Map, None, |c, meta| {
                let Elems::Map(m) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                if m.delete(&fields) == 0 {
                    return Err(Fail::NotFoundElement);
                }
                meta.unlink = drop && m.len() == 0;
                Ok(meta.unlink)
            });
            match res {
                Ok((true, _)) => r.line("DELETED_DROPPED"),
                Ok((false, _)) => r.line("DELETED"),
                Err(f) => r.line(f.reply()),
            }
            step
        }
        b"get" if n == 5 || n == 6 => {
            let (len, count) = match field_counts(cmd, t[3], t[4]) {
                Ok(lc) => lc,
                Err(skip) => return bad_counts(cmd, skip, r),
            };
            let Some((delete, drop)) = delete_or_drop(t.get(5).copied()) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let (fields, step) = match field_list(cmd, len, count, r) {
                Ok(fs) => fs,
                Err(step) => return step,
            };
            let res = cmd.with_coll(t[2], Kind::Map, None, |c, meta| {
                if !c.attr.readable {
                    return Err(Fail::Unreadable);
                }
                let Elems::Map(m) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                let got = m.get(&fields, delete);
                if got.is_empty() {
                    return Err(Fail::NotFoundElement);
                }
                meta.unlink = drop && m.len() == 0;
                Ok((got, meta.flags, meta.unlink))
            });
            match res {
                Ok(((elems, flags, dropped), _)) => {
                    let _ = write!(r.out, "VALUE {flags} {}\r\n", elems.len());
                    for (f, v) in &elems {
                        r.out.extend_from_slice(f);
                        let _ = write!(r.out, " {} ", v.len());
                        r.out.extend_from_slice(v);
                        r.out.extend_from_slice(b"\r\n");
                    }
                    r.line(match (delete, dropped) {
                        (false, _) => "END",
                        (true, false) => "DELETED",
                        (true, true) => "DELETED_DROPPED",
                    });
                }
                Err(f) => r.line(f.reply()),
            }
            step
        }
        _ => {
            r.line(BAD_FORMAT);
            cmd.done()
        }
    }
}

fn bad_counts(cmd: &mut Cmd, skip: Option<usize>, r: &mut Reply) -> Step {
    match skip {
        Some(len) => cmd.refuse_data(len, "CLIENT_ERROR bad value", r),
        None => {
            r.line(BAD_FORMAT);
            cmd.done()
        }
    }
}

/// The field list line after the command (none when `count` is 0), and the step past it.
fn field_list<'a>(cmd: &Cmd<'a>, len: usize, count: usize, r: &mut Reply) -> Result<(Vec<&'a [u8]>, Step), Step> {
    if count == 0 {
        return Ok((Vec::new(), cmd.done()));
    }
    match cmd.data(len, r) {
        Data::Ready(d) => match split_names(d, count, MAX_FIELD_LEN, true) {
            Some(fields) => Ok((fields, cmd.done_data(len))),
            None => {
                r.line("CLIENT_ERROR bad data chunk");
                Err(cmd.done_data(len))
            }
        },
        Data::Not(step) => Err(step),
    }
}
