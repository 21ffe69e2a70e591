//! What the collection commands share: the command being run ([`Cmd`]) with its data block,
//! finding the collection under a key, and writing elements into replies.

use crate::coll::{CollItem, CreateAttr, Fail, Kind};
use crate::state::State;
use crate::store::ItemMut;

use super::{Reply, Step};

/// One command line being run, and what follows it in the buffer.
pub(crate) struct Cmd<'a> {
    pub state: &'a State,
    pub tokens: &'a [&'a [u8]],
    /// the bytes after the command line
    pub rest: &'a [u8],
    /// the length of the command line with its newline
    pub consumed: usize,
    /// bytes of a refused data block still to skip
    pub swallow: &'a mut usize,
}

/// How a data block after a command line turned out.
pub(crate) enum Data<'a> {
    Ready(&'a [u8]),
    /// not all here yet, or it did not end with `\r\n` (replied): the step to return
    Not(Step),
}

impl<'a> Cmd<'a> {
    pub fn done(&self) -> Step {
        Step::Done(self.consumed)
    }

    /// The `vlen`-byte data block after the line.
    pub fn data(&self, vlen: usize, r: &mut Reply) -> Data<'a> {
        if self.rest.len() < vlen + 2 {
            return Data::Not(Step::More(self.consumed + vlen + 2));
        }
        if &self.rest[vlen..vlen + 2] != b"\r\n" {
            r.line("CLIENT_ERROR bad data chunk");
            return Data::Not(Step::Done(self.consumed + vlen + 2));
        }
        Data::Ready(&self.rest[..vlen])
    }

    /// `Some(More)` while a data block that will be read is not all here: checked before
    /// anything with side effects is done.
    pub fn wait_data(&self, vlen: usize) -> Option<Step> {
        (!self.too_large(vlen) && self.rest.len() < vlen + 2).then_some(Step::More(self.consumed + vlen + 2))
    }

    /// The data block of an element command, after the pipeline check and the element size
    /// check (either refuses and skips it): Err(step) = return that step.
    pub fn element_data(&mut self, vlen: usize, r: &mut Reply) -> Result<&'a [u8], Step> {
        if let Some(more) = self.wait_data(vlen) {
            return Err(more);
        }
        if !r.pipe_may_run() {
            *self.swallow = vlen + 2;
            return Err(self.done());
        }
        if self.too_large(vlen) {
            return Err(self.refuse_data(vlen, "CLIENT_ERROR too large value", r));
        }
        match self.data(vlen, r) {
            Data::Ready(v) => Ok(v),
            Data::Not(step) => Err(step),
        }
    }

    /// An insert's optional `create <attributes>` from token `from` on (before `noreply`/`pipe`),
    /// then its element's data block: Err(step) = return that step (a bad tail is refused first).
    pub fn create_and_element(
        &mut self,
        from: usize,
        kind: Kind,
        vlen: usize,
        r: &mut Reply,
    ) -> Result<(Option<CreateAttr>, &'a [u8]), Step> {
        let end = self.tokens.len() - r.noreply as usize;
        let Ok(create) = create_tail(&self.tokens[from..end], kind) else {
            r.line(BAD_FORMAT);
            return Err(self.done());
        };
        Ok((create, self.element_data(vlen, r)?))
    }

    /// The step after a data block of `vlen` bytes was used.
    pub fn done_data(&self, vlen: usize) -> Step {
        Step::Done(self.consumed + vlen + 2)
    }

    /// Refuses a data block: replies `line` and skips the block.
    pub fn refuse_data(&mut self, vlen: usize, line: &str, r: &mut Reply) -> Step {
        r.line(line);
        *self.swallow = vlen + 2;
        self.done()
    }

    /// An element value longer than `max_element_bytes` (counting its `\r\n`).
    pub fn too_large(&self, vlen: usize) -> bool {
        vlen + 2 > self.state.coll_limits.max_element_bytes()
    }

    /// Runs `f` on the collection of `kind` under `key`; with `create`, one is made when the key
    /// is missing (and removed again if `f` fails on it).
    pub fn with_coll<R>(
        &self,
        key: &[u8],
        kind: Kind,
        create: Option<&CreateAttr>,
        f: impl FnOnce(&mut CollItem, &mut Meta) -> Result<R, Fail>,
    ) -> Result<(R, bool), Fail> {
        let limits = &self.state.coll_limits;
        let made;
        let create = match create {
            Some(c) => {
                made = move || CollItem::new(kind, c, limits);
                Some((c.flags, c.exptime, &made as &dyn Fn() -> CollItem))
            }
            None => None,
        };
        self.state.store.with_item(key, create, |item| {
            let item = item.ok_or(Fail::NotFound)?;
            let created = item.created;
            let r = coll_of(item, kind, f);
            if r.is_err() && created {
                item.unlink = true;
            }
            r.map(|v| (v, created))
        })
    }
}

/// The item-level things a collection command may read or change besides the elements.
pub(crate) struct Meta {
    pub flags: u32,
    /// set to drop the whole item afterwards (`drop` when it became empty)
    pub unlink: bool,
}

fn coll_of<R>(
    item: &mut ItemMut<'_>,
    kind: Kind,
    f: impl FnOnce(&mut CollItem, &mut Meta) -> Result<R, Fail>,
) -> Result<R, Fail> {
    let coll = item.coll.as_deref_mut().ok_or(Fail::TypeMismatch)?;
    if coll.kind() != kind {
        return Err(Fail::TypeMismatch);
    }
    let mut meta = Meta { flags: item.flags, unlink: false };
    let r = f(coll, &mut meta);
    item.unlink |= meta.unlink;
    r
}

/// `<bytes> <data>\r\n`
pub(crate) fn write_value(out: &mut Vec<u8>, v: &[u8]) {
    use std::io::Write;
    let _ = write!(out, "{} ", v.len());
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
}

/// The `[create <attributes>]` tail of an insert: the tokens between the fixed ones and the
/// optional `noreply`/`pipe`/`getrim`. Ok(None) when absent, Err when malformed.
pub(crate) fn create_tail(rest: &[&[u8]], kind: Kind) -> Result<Option<CreateAttr>, ()> {
    match rest {
        [] => Ok(None),
        [c, attrs @ ..] if *c == b"create" && !attrs.is_empty() => CreateAttr::parse(attrs, kind).map(Some).ok_or(()),
        _ => Err(()),
    }
}

pub(crate) const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";

/// `<kind> create <key> <attributes> [noreply]`
pub(crate) fn create(cmd: &Cmd, kind: Kind, r: &mut Reply) {
    let t = cmd.tokens;
    let n = t.len();
    r.noreply = t[n - 1] == b"noreply";
    let end = n - r.noreply as usize;
    let Some(attr) = CreateAttr::parse(&t[3..end], kind) else {
        return r.line(BAD_FORMAT);
    };
    let limits = &cmd.state.coll_limits;
    let make = || CollItem::new(kind, &attr, limits);
    let made = cmd
        .state
        .store
        .with_item(t[2], Some((attr.flags, attr.exptime, &make)), |item| item.is_some_and(|i| i.created));
    r.line(if made { "CREATED" } else { "EXISTS" });
}

/// A space separated list of `count` names (keys, fields) of at most `max_len` bytes each; with
/// `commas`, a comma separated one is taken too (1.10 clients). None = a bad list.
pub(crate) fn split_names(data: &[u8], count: usize, max_len: usize, commas: bool) -> Option<Vec<&[u8]>> {
    let by = |d: u8| -> Option<Vec<&[u8]>> {
        let names: Vec<&[u8]> = data.split(|&b| b == d).filter(|t| !t.is_empty()).collect();
        (names.len() == count && names.iter().all(|n| n.len() <= max_len)).then_some(names)
    };
    by(b' ').or_else(|| if commas { by(b',') } else { None })
}

/// A `<bytes>` of a data block: 0..=INT_MAX-2.
pub(crate) fn vlen_of(t: &[u8]) -> Option<usize> {
    crate::coll::num::parse_i32(t).filter(|v| (0..=i32::MAX - 2).contains(v)).map(|v| v as usize)
}

/// A get's optional last word: `delete` the elements read, or also `drop` the collection they
/// leave empty; `(delete, drop)`, None for another word.
pub(crate) fn delete_or_drop(word: Option<&[u8]>) -> Option<(bool, bool)> {
    match word {
        None => Some((false, false)),
        Some(b"delete") => Some((true, false)),
        Some(b"drop") => Some((true, true)),
        Some(_) => None,
    }
}

/// What a list's or a set's get read: the values, the item's flags, whether it dropped the item.
pub(crate) type ValuesRead<V> = (Vec<V>, u32, bool);

/// The reply of a list's or a set's get: `VALUE <flags> <count>`, the values, then `END` (or
/// `DELETED`, `DELETED_DROPPED` when the get deleted them), or the failure's line.
pub(crate) fn values_reply<V: AsRef<[u8]>, X>(r: &mut Reply, got: Result<(ValuesRead<V>, X), Fail>, delete: bool) {
    match got {
        Ok(((values, flags, dropped), _)) => {
            let _ = std::io::Write::write_fmt(r.out, format_args!("VALUE {flags} {}\r\n", values.len()));
            for v in &values {
                write_value(r.out, v.as_ref());
            }
            r.line(match (delete, dropped) {
                (false, _) => "END",
                (true, false) => "DELETED",
                (true, true) => "DELETED_DROPPED",
            });
        }
        Err(f) => r.line(f.reply()),
    }
}
