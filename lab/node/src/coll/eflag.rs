//! Element flags of b+tree elements (ch02): the filter `<offset> [<bitwop> <bitwvalue>] <compop>
//! <compvalue>[,<compvalue>...]` and the update `[<offset> <bitwop>] <value>`.

use smallvec::SmallVec;

use super::num;

pub const MAX_EFLAG_LEN: usize = 31;
/// Values an `EQ`/`NE` filter may list (IN, NOT IN).
const MAX_COMPARE_VALUES: usize = 100;

pub type Eflag = SmallVec<[u8; 8]>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bitwop {
    And,
    Or,
    Xor,
}

impl Bitwop {
    pub fn parse(t: &[u8]) -> Option<Bitwop> {
        match t {
            b"&" => Some(Bitwop::And),
            b"|" => Some(Bitwop::Or),
            b"^" => Some(Bitwop::Xor),
            _ => None,
        }
    }

    fn apply(self, a: u8, b: u8) -> u8 {
        match self {
            Bitwop::And => a & b,
            Bitwop::Or => a | b,
            Bitwop::Xor => a ^ b,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compop {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Compop {
    fn parse(t: &[u8]) -> Option<Compop> {
        Some(match t {
            b"EQ" => Compop::Eq,
            b"NE" => Compop::Ne,
            b"LT" => Compop::Lt,
            b"LE" => Compop::Le,
            b"GT" => Compop::Gt,
            b"GE" => Compop::Ge,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Filter {
    offset: usize,
    bitw: Option<(Bitwop, Eflag)>,
    op: Compop,
    /// one value, or several of one length for EQ/NE
    values: Vec<Eflag>,
}

impl Filter {
    /// Reads a filter from the front of `t` when there is one (its third token starts with `0x`,
    /// as arcus-memcached decides): Ok(None) if none, Ok(Some((filter, tokens used))), Err = bad.
    pub fn parse(t: &[&[u8]]) -> Result<Option<(Filter, usize)>, ()> {
        if t.len() < 3 || !t[2].starts_with(b"0x") {
            return Ok(None);
        }
        let offset = num::parse_u32(t[0]).filter(|&o| (o as usize) < MAX_EFLAG_LEN).ok_or(())? as usize;
        let mut used = 1;
        let mut bitw = None;
        if t.len() >= 5 && t[4].starts_with(b"0x") {
            let op = Bitwop::parse(t[1]).ok_or(())?;
            let v = num::parse_hex(t[2]).ok_or(())?;
            bitw = Some((op, v));
            used = 3;
        }
        let op = Compop::parse(t.get(used).ok_or(())?).ok_or(())?;
        let raw = t.get(used + 1).ok_or(())?;
        let mut values: Vec<Eflag> = Vec::new();
        let parts: Vec<&[u8]> = if matches!(op, Compop::Eq | Compop::Ne) {
            raw.split(|&b| b == b',').filter(|p| !p.is_empty()).collect()
        } else {
            vec![raw]
        };
        for part in parts {
            let v = num::parse_hex(part).ok_or(())?;
            if values.len() + 1 > MAX_COMPARE_VALUES {
                return Err(());
            }
            match values.first() {
                None => {
                    if offset + v.len() > MAX_EFLAG_LEN {
                        return Err(());
                    }
                    if bitw.as_ref().is_some_and(|(_, b)| b.len() != v.len()) {
                        return Err(());
                    }
                }
                Some(first) if first.len() != v.len() => return Err(()),
                Some(_) => {}
            }
            values.push(v);
        }
        if values.is_empty() {
            return Err(());
        }
        Ok(Some((Filter { offset, bitw, op, values }, used + 2)))
    }

    /// Whether an element with this eflag (None: without one) passes.
    pub fn matches(&self, eflag: Option<&[u8]>) -> bool {
        let e = eflag.unwrap_or(&[]);
        let n = self.values[0].len();
        if self.offset >= e.len() || n > e.len() - self.offset {
            return self.op == Compop::Ne;
        }
        let mut operand: Eflag = e[self.offset..self.offset + n].into();
        if let Some((op, v)) = &self.bitw {
            for (a, b) in operand.iter_mut().zip(v.iter()) {
                *a = op.apply(*a, *b);
            }
        }
        if self.values.len() > 1 {
            let found = self.values.iter().any(|v| v[..] == operand[..]);
            return found == (self.op == Compop::Eq);
        }
        let ord = operand[..].cmp(&self.values[0][..]);
        use std::cmp::Ordering::*;
        match self.op {
            Compop::Eq => ord == Equal,
            Compop::Ne => ord != Equal,
            Compop::Lt => ord == Less,
            Compop::Le => ord != Greater,
            Compop::Gt => ord == Greater,
            Compop::Ge => ord != Less,
        }
    }
}

/// `bop update`'s eflag part.
#[derive(Clone, Debug)]
pub enum Update {
    /// replace it (an empty value, written `0`, removes it)
    Set(Option<Eflag>),
    /// apply a bitwise op to the bytes at offset
    Bitwise { offset: usize, op: Bitwop, value: Eflag },
}

impl Update {
    /// `t` is the eflag part: one token (`<value>` or `0`) or three (`<offset> <bitwop> <value>`).
    pub fn parse(t: &[&[u8]]) -> Option<Update> {
        match t {
            [v] if *v == b"0" => Some(Update::Set(None)),
            [v] => Some(Update::Set(Some(num::parse_hex(v)?))),
            [o, op, v] => {
                let offset = num::parse_u32(o).filter(|&o| (o as usize) < MAX_EFLAG_LEN)? as usize;
                let value = num::parse_hex(v)?;
                if offset + value.len() > MAX_EFLAG_LEN {
                    return None;
                }
                Some(Update::Bitwise { offset, op: Bitwop::parse(op)?, value })
            }
            _ => None,
        }
    }

    /// The new eflag, or Err(()) when a bitwise update does not fit the element's eflag
    /// (EFLAG_MISMATCH).
    pub fn apply(&self, old: Option<&[u8]>) -> Result<Option<Eflag>, ()> {
        match self {
            Update::Set(v) => Ok(v.clone()),
            Update::Bitwise { offset, op, value } => {
                let old = old.ok_or(())?;
                if offset + value.len() > old.len() {
                    return Err(());
                }
                let mut e: Eflag = old.into();
                for (i, b) in value.iter().enumerate() {
                    e[offset + i] = op.apply(e[offset + i], *b);
                }
                Ok(Some(e))
            }
        }
    }
}
