//! `lop` (ch05): create, insert, delete, get on lists.

use crate::coll::{Elems, Fail, Kind};

use super::elems::{create, delete_or_drop, values_reply, vlen_of, Cmd, BAD_FORMAT};
use super::{Reply, Step, KEY_MAX};

/// `<index>` or `<from>..<to>`
fn index_range(t: &[u8]) -> Option<(i32, i32)> {
    use crate::coll::num::parse_i32;
    match memchr::memmem::find(t, b"..") {
        Some(i) => Some((parse_i32(&t[..i])?, parse_i32(&t[i + 2..])?)),
        None => parse_i32(t).map(|i| (i, i)),
    }
}

pub(crate) fn run(cmd: &mut Cmd, r: &mut Reply) -> Step {
    let t = cmd.tokens;
    let n = t.len();
    if t[2].len() > KEY_MAX {
        r.line(BAD_FORMAT);
        return cmd.done();
    }
    match t[1] {
        b"insert" if (5..=12).contains(&n) => insert(cmd, r),
        b"create" if (6..=9).contains(&n) => {
            create(cmd, Kind::List, r);
            cmd.done()
        }
        b"delete" if (4..=6).contains(&n) => {
            r.pipe_or_noreply(t[n - 1]);
            let Some((from, to)) = index_range(t[3]) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let mut drop = false;
            if n >= 5 {
                if n == 6 || !r.noreply {
                    drop = t[4] == b"drop";
                }
                if (n == 5 && !r.noreply && !drop) || (n == 6 && (!r.noreply || !drop)) {
                    r.line(BAD_FORMAT);
                    return cmd.done();
                }
            }
            if !r.pipe_may_run() {
                return cmd.done();
            }
            let res = cmd.with_coll(t[2], Kind::List, None, |c, meta| {
                let Elems::List(l) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                l.delete(from, to)?;
                meta.unlink = drop && l.len() == 0;
                Ok(meta.unlink)
            });
            match res {
                Ok((true, _)) => r.line("DELETED_DROPPED"),
                Ok((false, _)) => r.line("DELETED"),
                Err(f) => r.line(f.reply()),
            }
            cmd.done()
        }
        b"get" if n == 4 || n == 5 => {
            let Some((from, to)) = index_range(t[3]) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let Some((delete, drop)) = delete_or_drop(t.get(4).copied()) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let res = cmd.with_coll(t[2], Kind::List, None, |c, meta| {
                if !c.attr.readable {
                    return Err(Fail::Unreadable);
                }
                let Elems::List(l) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                let got = l.get(from, to, delete)?;
                meta.unlink = drop && l.len() == 0;
                Ok((got, meta.flags, meta.unlink))
            });
            values_reply(r, res, delete);
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
    let (Some(index), Some(vlen)) = (crate::coll::num::parse_i32(t[3]), vlen_of(t[4])) else {
        r.line(BAD_FORMAT);
        return cmd.done();
    };
    let (create, value) = match cmd.create_and_element(5, Kind::List, vlen, r) {
        Ok(got) => got,
        Err(step) => return step,
    };
    let limits = &cmd.state.coll_limits;
    let res = cmd.with_coll(t[2], Kind::List, create.as_ref(), |c, _| {
        let limit = c.limit(limits);
        let Elems::List(l) = &mut c.elems else { return Err(Fail::TypeMismatch) };
        l.insert(&c.attr, limit, index, value)
    });
    match res {
        Ok(((), true)) => r.line("CREATED_STORED"),
        Ok(((), false)) => r.line("STORED"),
        Err(f) => r.line(f.reply()),
    }
    cmd.done_data(vlen)
}
