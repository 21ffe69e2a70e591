//! `sop` (ch06): create, insert, delete, exist, get on sets.

use crate::coll::{num, Elems, Fail, Kind};

use super::elems::{create, delete_or_drop, values_reply, vlen_of, Cmd, BAD_FORMAT};
use super::{Reply, Step, KEY_MAX};

/// The most elements one `sop get` may ask for.
const MAX_GET_COUNT: u32 = 1000;

pub(crate) fn run(cmd: &mut Cmd, r: &mut Reply) -> Step {
    let t = cmd.tokens;
    let n = t.len();
    if t[2].len() > KEY_MAX {
        r.line(BAD_FORMAT);
        return cmd.done();
    }
    match t[1] {
        b"insert" if (4..=11).contains(&n) => {
            r.pipe_or_noreply(t[n - 1]);
            let Some(vlen) = vlen_of(t[3]) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let (create, value) = match cmd.create_and_element(4, Kind::Set, vlen, r) {
                Ok(got) => got,
                Err(step) => return step,
            };
            let limits = &cmd.state.coll_limits;
            let res = cmd.with_coll(t[2], Kind::Set, create.as_ref(), |c, _| {
                let limit = c.limit(limits);
                let Elems::Set(s) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                s.insert(&c.attr, limit, value)
            });
            match res {
                Ok(((), true)) => r.line("CREATED_STORED"),
                Ok(((), false)) => r.line("STORED"),
                Err(f) => r.line(f.reply()),
            }
            cmd.done_data(vlen)
        }
        b"create" if (6..=9).contains(&n) => {
            create(cmd, Kind::Set, r);
            cmd.done()
        }
        b"delete" if (4..=6).contains(&n) => {
            r.pipe_or_noreply(t[n - 1]);
            let Some(vlen) = vlen_of(t[3]) else {
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
            let value = match cmd.element_data(vlen, r) {
                Ok(v) => v,
                Err(step) => return step,
            };
            let res = cmd.with_coll(t[2], Kind::Set, None, |c, meta| {
                let Elems::Set(s) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                if !s.delete(value) {
                    return Err(Fail::NotFoundElement);
                }
                meta.unlink = drop && s.len() == 0;
                Ok(meta.unlink)
            });
            match res {
                Ok((true, _)) => r.line("DELETED_DROPPED"),
                Ok((false, _)) => r.line("DELETED"),
                Err(f) => r.line(f.reply()),
            }
            cmd.done_data(vlen)
        }
        b"exist" if n == 4 || n == 5 => {
            r.pipe_only(t[n - 1]);
            let Some(vlen) = vlen_of(t[3]).filter(|_| n == 4 || r.noreply) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let value = match cmd.element_data(vlen, r) {
                Ok(v) => v,
                Err(step) => return step,
            };
            let res = cmd.with_coll(t[2], Kind::Set, None, |c, _| {
                if !c.attr.readable {
                    return Err(Fail::Unreadable);
                }
                let Elems::Set(s) = &c.elems else { return Err(Fail::TypeMismatch) };
                Ok(s.contains(value))
            });
            match res {
                Ok((true, _)) => r.line("EXIST"),
                Ok((false, _)) => r.line("NOT_EXIST"),
                Err(f) => r.line(f.reply()),
            }
            cmd.done_data(vlen)
        }
        b"get" if n == 4 || n == 5 => {
            let Some(count) = num::parse_u32(t[3]) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            if count > MAX_GET_COUNT {
                r.line("CLIENT_ERROR invalid: too many count");
                return cmd.done();
            }
            let Some((delete, drop)) = delete_or_drop(t.get(4).copied()) else {
                r.line(BAD_FORMAT);
                return cmd.done();
            };
            let res = cmd.with_coll(t[2], Kind::Set, None, |c, meta| {
                if !c.attr.readable {
                    return Err(Fail::Unreadable);
                }
                let Elems::Set(s) = &mut c.elems else { return Err(Fail::TypeMismatch) };
                if s.len() == 0 {
                    return Err(Fail::NotFoundElement);
                }
                let got = s.get(count as usize, delete);
                meta.unlink = drop && s.len() == 0;
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
