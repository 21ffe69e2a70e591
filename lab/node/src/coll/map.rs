//! Map collections (ch07): values under unique fields.

use hashbrown::HashMap;

use super::{Attr, Fail, ELEM_OVERHEAD};

/// The longest field name.
pub const MAX_FIELD_LEN: usize = 250;

/// A field and its value.
pub type Field = (Box<[u8]>, Box<[u8]>);

#[derive(Default)]
pub struct Map {
    elems: HashMap<Box<[u8]>, Box<[u8]>>,
    bytes: usize,
}

fn charge(f: &[u8], v: &[u8]) -> usize {
    f.len() + v.len() + ELEM_OVERHEAD
}

impl Map {
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// `mop insert` (upsert = replace an existing field); Ok(true) if it replaced one.
    pub fn insert(
        &mut self,
        _attr: &Attr,
        limit: usize,
        field: &[u8],
        value: &[u8],
        upsert: bool,
    ) -> Result<bool, Fail> {
        if let Some(old) = self.elems.get_mut(field) {
            if !upsert {
                return Err(Fail::ElementExists);
            }
            self.bytes = self.bytes - old.len() + value.len();
            *old = value.into();
            return Ok(true);
        }
        if self.elems.len() >= limit {
            return Err(Fail::Overflowed);
        }
        self.bytes += charge(field, value);
        self.elems.insert(field.into(), value.into());
        Ok(false)
    }

    pub fn update(&mut self, field: &[u8], value: &[u8]) -> Result<(), Fail> {
        let old = self.elems.get_mut(field).ok_or(Fail::NotFoundElement)?;
        self.bytes = self.bytes - old.len() + value.len();
        *old = value.into();
        Ok(())
    }

    /// Removes the fields (all when none are given); the count removed.
    pub fn delete(&mut self, fields: &[&[u8]]) -> usize {
        if fields.is_empty() {
            let n = self.elems.len();
            self.elems.clear();
            self.bytes = 0;
            return n;
        }
        let mut n = 0;
        for f in fields {
            if let Some(v) = self.elems.remove(*f) {
                self.bytes -= charge(f, &v);
                n += 1;
            }
        }
        n
    }

    /// `mop get`: the given fields that exist, in the order given (all when none), removed if
    /// `delete`.
    pub fn get(&mut self, fields: &[&[u8]], delete: bool) -> Vec<Field> {
        let out: Vec<Field> = if fields.is_empty() {
            self.elems.iter().map(|(f, v)| (f.clone(), v.clone())).collect()
        } else {
            let mut seen: Vec<&[u8]> = Vec::new();
            fields
                .iter()
                .filter(|f| {
                    let first = !seen.contains(f);
                    seen.push(f);
                    first
                })
                .filter_map(|f| self.elems.get(*f).map(|v| (Box::from(*f), v.clone())))
                .collect()
        };
        if delete {
            let names: Vec<&[u8]> = out.iter().map(|(f, _)| &f[..]).collect();
            self.delete(&names);
        }
        out
    }
}
