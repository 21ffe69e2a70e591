//! Arcus's collections (ch02): list, set, map and b+tree items, their attributes and limits.
//! Each kind lives in its own file with the operations its commands need; they know nothing of
//! the text protocol (see `crate::protocol` for the commands) nor of the item table (see
//! `crate::store`, which holds a [`CollItem`] in place of a value and charges its [`CollItem::bytes`]
//! against `-m`).

pub mod attr;
pub mod bkey;
pub mod btree;
pub mod eflag;
pub mod list;
pub mod map;
pub mod num;
pub mod set;

use std::sync::atomic::{AtomicU32, Ordering};

pub use attr::{Attr, CreateAttr, Ovfl};

/// Bytes charged per element beyond its data (the element header and its index slot).
pub const ELEM_OVERHEAD: usize = 48;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    List,
    Set,
    Map,
    Btree,
}

impl Kind {
    /// The name `getattr type` gives.
    pub fn name(self) -> &'static str {
        match self {
            Kind::List => "list",
            Kind::Set => "set",
            Kind::Map => "map",
            Kind::Btree => "b+tree",
        }
    }
}

/// Why a collection operation did not do what was asked; each is one reply line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fail {
    NotFound,
    NotFoundElement,
    TypeMismatch,
    Unreadable,
    Overflowed,
    OutOfRange,
    ElementExists,
    BkeyMismatch,
    EflagMismatch,
    /// bop incr/decr on a value that is not a number
    NonNumeric,
}

impl Fail {
    pub fn reply(self) -> &'static str {
        match self {
            Fail::NotFound => "NOT_FOUND",
            Fail::NotFoundElement => "NOT_FOUND_ELEMENT",
            Fail::TypeMismatch => "TYPE_MISMATCH",
            Fail::Unreadable => "UNREADABLE",
            Fail::Overflowed => "OVERFLOWED",
            Fail::OutOfRange => "OUT_OF_RANGE",
            Fail::ElementExists => "ELEMENT_EXISTS",
            Fail::BkeyMismatch => "BKEY_MISMATCH",
            Fail::EflagMismatch => "EFLAG_MISMATCH",
            Fail::NonNumeric => "CLIENT_ERROR cannot increment or decrement non-numeric value",
        }
    }
}

/// The limits `config` changes: the most elements a collection of each kind may hold and the
/// largest element value (arcus-memcached's defaults).
pub struct Limits {
    pub max_list_size: AtomicU32,
    pub max_set_size: AtomicU32,
    pub max_map_size: AtomicU32,
    pub max_btree_size: AtomicU32,
    pub max_element_bytes: AtomicU32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_list_size: AtomicU32::new(50000),
            max_set_size: AtomicU32::new(50000),
            max_map_size: AtomicU32::new(50000),
            max_btree_size: AtomicU32::new(50000),
            max_element_bytes: AtomicU32::new(16 * 1024),
        }
    }
}

impl Limits {
    pub fn max_size(&self, kind: Kind) -> u32 {
        let a = match kind {
            Kind::List => &self.max_list_size,
            Kind::Set => &self.max_set_size,
            Kind::Map => &self.max_map_size,
            Kind::Btree => &self.max_btree_size,
        };
        a.load(Ordering::Relaxed)
    }

    pub fn max_element_bytes(&self) -> usize {
        self.max_element_bytes.load(Ordering::Relaxed) as usize
    }
}

/// The elements of one collection.
pub enum Elems {
    List(list::List),
    Set(set::Set),
    Map(map::Map),
    Btree(btree::Btree),
}

/// A collection item's value: its attributes and elements.
pub struct CollItem {
    pub attr: Attr,
    pub elems: Elems,
}

impl CollItem {
    pub fn new(kind: Kind, create: &CreateAttr, limits: &Limits) -> CollItem {
        let attr = Attr {
            maxcount: Attr::real_maxcount(create.maxcount, limits.max_size(kind)),
            ovfl: create.ovfl.unwrap_or(Ovfl::default_for(kind)),
            readable: create.readable,
            trimmed: false,
            maxbkeyrange: None,
        };
        let elems = match kind {
            Kind::List => Elems::List(Default::default()),
            Kind::Set => Elems::Set(Default::default()),
            Kind::Map => Elems::Map(Default::default()),
            Kind::Btree => Elems::Btree(Default::default()),
        };
        CollItem { attr, elems }
    }

    pub fn kind(&self) -> Kind {
        match self.elems {
            Elems::List(_) => Kind::List,
            Elems::Set(_) => Kind::Set,
            Elems::Map(_) => Kind::Map,
            Elems::Btree(_) => Kind::Btree,
        }
    }

    pub fn count(&self) -> usize {
        match &self.elems {
            Elems::List(l) => l.len(),
            Elems::Set(s) => s.len(),
            Elems::Map(m) => m.len(),
            Elems::Btree(b) => b.len(),
        }
    }

    /// Bytes charged against `-m` for the elements.
    pub fn bytes(&self) -> usize {
        match &self.elems {
            Elems::List(l) => l.bytes(),
            Elems::Set(s) => s.bytes(),
            Elems::Map(m) => m.bytes(),
            Elems::Btree(b) => b.bytes(),
        }
    }

    /// The element count that fills this collection now.
    pub fn limit(&self, limits: &Limits) -> usize {
        self.attr.limit(limits.max_size(self.kind()))
    }
}
