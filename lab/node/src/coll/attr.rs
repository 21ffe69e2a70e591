//! A collection's item attributes (ch03): maxcount, overflow action, readable, trimmed and, for
//! b+trees, maxbkeyrange; and the `<attributes>` of `create` as the commands give them.

use super::bkey::Bkey;
use super::Kind;

/// `maxcount` when none is given (or 0).
pub const DEFAULT_MAXCOUNT: i32 = 4000;

/// What happens when an insert finds the collection full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ovfl {
    Error,
    HeadTrim,
    TailTrim,
    SmallestTrim,
    LargestTrim,
    SmallestSilentTrim,
    LargestSilentTrim,
}

impl Ovfl {
    pub fn name(self) -> &'static str {
        match self {
            Ovfl::Error => "error",
            Ovfl::HeadTrim => "head_trim",
            Ovfl::TailTrim => "tail_trim",
            Ovfl::SmallestTrim => "smallest_trim",
            Ovfl::LargestTrim => "largest_trim",
            Ovfl::SmallestSilentTrim => "smallest_silent_trim",
            Ovfl::LargestSilentTrim => "largest_silent_trim",
        }
    }

    /// The action named `s` if `kind` allows it.
    pub fn parse(s: &[u8], kind: Kind) -> Option<Ovfl> {
        let o = match s {
            b"error" => return Some(Ovfl::Error),
            b"head_trim" => Ovfl::HeadTrim,
            b"tail_trim" => Ovfl::TailTrim,
            b"smallest_trim" => Ovfl::SmallestTrim,
            b"largest_trim" => Ovfl::LargestTrim,
            b"smallest_silent_trim" => Ovfl::SmallestSilentTrim,
            b"largest_silent_trim" => Ovfl::LargestSilentTrim,
            _ => return None,
        };
        let fits = match kind {
            Kind::List => matches!(o, Ovfl::HeadTrim | Ovfl::TailTrim),
            Kind::Btree => !matches!(o, Ovfl::HeadTrim | Ovfl::TailTrim),
            Kind::Set | Kind::Map => false,
        };
        fits.then_some(o)
    }

    pub fn default_for(kind: Kind) -> Ovfl {
        match kind {
            Kind::List => Ovfl::TailTrim,
            Kind::Set | Kind::Map => Ovfl::Error,
            Kind::Btree => Ovfl::SmallestTrim,
        }
    }
}

/// The attributes a collection keeps beside its elements.
#[derive(Clone, Debug)]
pub struct Attr {
    /// as stored: -1 means "the kind's max size, whatever it becomes"
    pub maxcount: i32,
    pub ovfl: Ovfl,
    pub readable: bool,
    /// a b+tree lost elements to an overflow trim (not a silent one)
    pub trimmed: bool,
    /// b+tree only; None = unlimited
    pub maxbkeyrange: Option<Bkey>,
}

impl Attr {
    /// maxcount as arcus-memcached stores a requested one: negative = the max size (kept as -1,
    /// so that it follows a later `config max_<kind>_size`), 0 = 4000, above the max size = it.
    pub fn real_maxcount(requested: i32, max_size: u32) -> i32 {
        match requested {
            r if r < 0 => -1,
            0 => DEFAULT_MAXCOUNT,
            r if r as u32 > max_size => max_size as i32,
            r => r,
        }
    }

    /// The element count that fills the collection now.
    pub fn limit(&self, max_size: u32) -> usize {
        if self.maxcount > 0 {
            self.maxcount as usize
        } else {
            max_size as usize
        }
    }
}

/// `create`'s `<flags> [<exptime> [<maxcount> [<ovflaction>] [unreadable]]]`.
#[derive(Clone, Debug)]
pub struct CreateAttr {
    pub flags: u32,
    pub exptime: i64,
    pub maxcount: i32,
    pub ovfl: Option<Ovfl>,
    pub readable: bool,
}

impl CreateAttr {
    /// Parses the attribute tokens as arcus-memcached does (1 to 5 of them); None = bad format.
    pub fn parse(t: &[&[u8]], kind: Kind) -> Option<CreateAttr> {
        if t.is_empty() || t.len() > 5 {
            return None;
        }
        let flags = super::num::parse_u32(t[0])?;
        let exptime = if t.len() >= 2 { super::num::parse_i64(t[1])? } else { 0 };
        let maxcount = if t.len() >= 3 { super::num::parse_i32(t[2])? } else { 0 };
        let mut ovfl = None;
        let mut readable = true;
        if t.len() >= 4 {
            ovfl = Ovfl::parse(t[3], kind);
            match (ovfl.is_some(), t.len()) {
                (true, 5) if t[4] == b"unreadable" => readable = false,
                (true, 5) => return None,
                (true, _) => {}
                (false, 5) => return None,
                (false, _) if t[3] == b"unreadable" => readable = false,
                (false, _) => return None,
            }
        }
        Some(CreateAttr { flags, exptime, maxcount, ovfl, readable })
    }
}
