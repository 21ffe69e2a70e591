//! Collections against the built node: exact replies of each command family (lop, sop, mop,
//! bop, getattr/setattr, pipelining), and seeded random sequences of list and b+tree commands
//! checked against simple models of their semantics.

mod common;

use std::collections::{BTreeMap, VecDeque};

use common::{Client, Node};

/// Sends `input` and reads reply lines until one of `ends` (or an error line).
fn exchange(c: &mut Client, input: &str, ends: &[&str]) -> String {
    c.send(input.as_bytes());
    let mut out = String::new();
    loop {
        let l = c.line().unwrap();
        out.push_str(&l);
        out.push('\n');
        if ends.iter().any(|e| l == *e) || l.contains("ERROR") {
            return out;
        }
    }
}

/// One command's reply: one line, or a block (VALUE, ATTR, RESPONSE) up to its end line.
fn call(c: &mut Client, input: &str) -> String {
    c.send(input.as_bytes());
    let first = c.line().unwrap();
    let mut out = format!("{first}\n");
    if !(first.starts_with("VALUE") || first.starts_with("ATTR ") || first.starts_with("RESPONSE")) {
        return out;
    }
    loop {
        let l = c.line().unwrap();
        out.push_str(&l);
        out.push('\n');
        if ["END", "TRIMMED", "DELETED", "DELETED_DROPPED"].contains(&l.as_str()) || l.starts_with("PIPE_ERROR") {
            return out;
        }
    }
}

#[test]
fn list_replies() {
    let node = Node::standalone(&[]);
    let mut c = node.client();
    assert_eq!(call(&mut c, "lop insert l 0 1\r\na\r\n"), "NOT_FOUND\n");
    assert_eq!(call(&mut c, "lop insert l 0 1 create 7 0 3\r\na\r\n"), "CREATED_STORED\n");
    assert_eq!(call(&mut c, "lop insert l -1 1\r\nb\r\n"), "STORED\n");
    assert_eq!(call(&mut c, "lop insert l 5 1\r\nx\r\n"), "OUT_OF_RANGE\n");
    assert_eq!(call(&mut c, "lop insert l 1 1\r\nc\r\n"), "STORED\n");
    // full (maxcount 3, tail_trim): inserting at the head drops the tail
    assert_eq!(call(&mut c, "lop insert l 0 1\r\nd\r\n"), "STORED\n");
    assert_eq!(call(&mut c, "lop get l 0..-1\r\n"), "VALUE 7 3\n1 d\n1 a\n1 c\nEND\n");
    assert_eq!(call(&mut c, "lop get l -1..0\r\n"), "VALUE 7 3\n1 c\n1 a\n1 d\nEND\n");
    assert_eq!(call(&mut c, "lop delete l 1\r\n"), "DELETED\n");
    assert_eq!(call(&mut c, "lop get l 0..5 drop\r\n"), "VALUE 7 2\n1 d\n1 c\nDELETED_DROPPED\n");
    assert_eq!(call(&mut c, "lop get l 0\r\n"), "NOT_FOUND\n");
    assert_eq!(call(&mut c, "set kv 0 0 1\r\nv\r\n"), "STORED\n");
    assert_eq!(call(&mut c, "lop insert kv 0 1\r\nx\r\n"), "TYPE_MISMATCH\n");
    assert_eq!(call(&mut c, "lop get l x..y\r\n"), "CLIENT_ERROR bad command line format\n");
}

#[test]
fn set_and_map_replies() {
    let node = Node::standalone(&[]);
    let mut c = node.client();
    assert_eq!(call(&mut c, "sop create s 3 0 2\r\n"), "CREATED\n");
    assert_eq!(call(&mut c, "sop create s 3 0 2\r\n"), "EXISTS\n");
    assert_eq!(call(&mut c, "sop insert s 1\r\na\r\n"), "STORED\n");
    assert_eq!(call(&mut c, "sop insert s 1\r\na\r\n"), "ELEMENT_EXISTS\n");
    assert_eq!(call(&mut c, "sop insert s 1\r\nb\r\n"), "STORED\n");
    assert_eq!(call(&mut c, "sop insert s 1\r\nc\r\n"), "OVERFLOWED\n");
    assert_eq!(call(&mut c, "sop exist s 1\r\nb\r\n"), "EXIST\n");
    assert_eq!(call(&mut c, "sop exist s 1\r\nz\r\n"), "NOT_EXIST\n");
    assert_eq!(call(&mut c, "sop delete s 1\r\nz\r\n"), "NOT_FOUND_ELEMENT\n");
    assert_eq!(call(&mut c, "sop get s 5000\r\n"), "CLIENT_ERROR invalid: too many count\n");
    assert_eq!(call(&mut c, "mop insert m f1 2 create 9 0 0\r\nv1\r\n"), "CREATED_STORED\n");
    assert_eq!(call(&mut c, "mop insert m f1 2\r\nv2\r\n"), "ELEMENT_EXISTS\n");
    assert_eq!(call(&mut c, "mop upsert m f1 2\r\nv3\r\n"), "REPLACED\n");
    assert_eq!(call(&mut c, "mop update m f2 2\r\nv4\r\n"), "NOT_FOUND_ELEMENT\n");
    assert_eq!(call(&mut c, "mop insert m f2 2\r\nv5\r\n"), "STORED\n");
    assert_eq!(call(&mut c, "mop get m 5 2\r\nf2 f1\r\n"), "VALUE 9 2\nf2 2 v5\nf1 2 v3\nEND\n");
    assert_eq!(call(&mut c, "mop delete m 2 1 drop\r\nf1\r\n"), "DELETED\n");
    assert_eq!(call(&mut c, "mop delete m 0 0 drop\r\n"), "DELETED_DROPPED\n");
    assert_eq!(call(&mut c, "mop get m 0 0\r\n"), "NOT_FOUND\n");
}

#[test]
fn btree_replies() {
    let node = Node::standalone(&[]);
    let mut c = node.client();
    assert_eq!(call(&mut c, "bop create b 5 0 3 smallest_trim\r\n"), "CREATED\n");
    for (k, v) in [(10, "a"), (20, "b"), (30, "c")] {
        assert_eq!(call(&mut c, &format!("bop insert b {k} 0x0{} 1\r\n{v}\r\n", k / 10)), "STORED\n");
    }
    assert_eq!(call(&mut c, "bop insert b 0x10 1\r\nx\r\n"), "BKEY_MISMATCH\n");
    assert_eq!(call(&mut c, "bop insert b 5 1\r\nx\r\n"), "OUT_OF_RANGE\n");
    // the rejected smallest key marks the tree trimmed: a read below its smallest says so
    assert_eq!(call(&mut c, "bop get b 0..100\r\n"), "VALUE 5 3\n10 0x01 1 a\n20 0x02 1 b\n30 0x03 1 c\nTRIMMED\n");
    assert_eq!(call(&mut c, "bop insert b 40 1 getrim\r\nd\r\n"), "VALUE 5 1\n10 0x01 1 a\nTRIMMED\n");
    assert_eq!(call(&mut c, "bop get b 100..0 1 1\r\n"), "VALUE 5 1\n30 0x03 1 c\nEND\n");
    assert_eq!(call(&mut c, "bop count b 0..100 0 EQ 0x02,0x03\r\n"), "COUNT=2\n");
    assert_eq!(call(&mut c, "bop update b 30 0 | 0x10 -1\r\n"), "UPDATED\n");
    assert_eq!(call(&mut c, "bop get b 30\r\n"), "VALUE 5 1\n30 0x13 1 c\nEND\n");
    assert_eq!(call(&mut c, "bop position b 30 desc\r\n"), "POSITION=1\n");
    assert_eq!(call(&mut c, "bop gbp b asc 0..1\r\n"), "VALUE 5 2\n20 0x02 1 b\n30 0x13 1 c\nEND\n");
    assert_eq!(call(&mut c, "bop insert b 50 2\r\n41\r\n"), "STORED\n");
    assert_eq!(call(&mut c, "bop incr b 50 9\r\n"), "50\n");
    // full again: 50 pushed out 20; then the smallest left goes
    assert_eq!(call(&mut c, "bop delete b 0..35 1\r\n"), "DELETED\n");
    assert_eq!(
        exchange(&mut c, "bop mget 4 2 0..100 5\r\nb,nb\r\n", &["END"]),
        "VALUE b TRIMMED 5 2\nELEMENT 40 1 d\nELEMENT 50 2 50\nVALUE nb NOT_FOUND\nEND\n"
    );
    assert_eq!(
        call(&mut c, "getattr b count maxcount overflowaction minbkey maxbkey trimmed\r\n"),
        "ATTR count=2\nATTR maxcount=3\nATTR overflowaction=smallest_trim\nATTR minbkey=40\nATTR maxbkey=50\nATTR trimmed=1\nEND\n"
    );
    assert_eq!(call(&mut c, "setattr b maxcount=1\r\n"), "ATTR_ERROR bad value\n");
    assert_eq!(call(&mut c, "setattr b readable=on maxcount=10\r\n"), "OK\n");
    assert_eq!(call(&mut c, "getattr b nonesuch\r\n"), "ATTR_ERROR not found\n");
}

#[test]
fn pipelined_commands_answer_once() {
    let node = Node::standalone(&[]);
    let mut c = node.client();
    let input = "lop insert p 0 1 create 0 0 0 pipe\r\na\r\nlop insert p 0 1 pipe\r\nb\r\nsop insert p 1\r\nc\r\n";
    assert_eq!(call(&mut c, input), "RESPONSE 3\nCREATED_STORED\nSTORED\nTYPE_MISMATCH\nEND\n");
    // a severe error ends the pipeline at once; the rest is skipped
    let input = "lop insert p 0 1 pipe\r\nd\r\nlop insert p x 1 pipe\r\nversion\r\n";
    let out = call(&mut c, input);
    assert_eq!(out, "RESPONSE 2\nSTORED\nCLIENT_ERROR bad command line format\nPIPE_ERROR bad error\n");
    assert_eq!(call(&mut c, ""), "VERSION 1.15.0-ref\n");
}

/// A list with maxcount `max` and overflowaction `tail_trim`, as ch05 and arcus-memcached's
/// coll_list.c define them.
struct ListModel {
    elems: VecDeque<String>,
    max: i64,
}

impl ListModel {
    fn insert(&mut self, index: i64, v: &str) -> &'static str {
        let n = self.elems.len() as i64;
        let fits = if index >= 0 { index <= n && index < self.max } else { -index <= n + 1 && -index <= self.max };
        if !fits {
            return "OUT_OF_RANGE";
        }
        let mut index = index;
        if n >= self.max {
            if index == -1 {
                self.elems.pop_front();
            } else {
                self.elems.pop_back();
                if index < 0 {
                    index += 1;
                }
            }
        }
        let n = self.elems.len() as i64;
        let at = if index < 0 { (index + n + 1).max(0) } else { index.min(n) };
        self.elems.insert(at as usize, v.to_string());
        "STORED"
    }

    /// The indexes `from..to` reaches, in reading order; None when it misses the list.
    fn range(&self, from: i64, to: i64) -> Option<Vec<usize>> {
        let n = self.elems.len() as i64;
        let (mut f, mut t) = (if from < 0 { from + n } else { from }, if to < 0 { to + n } else { to });
        if n == 0 || (f < 0 && t < 0) || (f >= n && t >= n) {
            return None;
        }
        f = f.clamp(0, n - 1);
        t = t.clamp(0, n - 1);
        let idx: Vec<usize> =
            if f <= t { (f..=t).map(|i| i as usize).collect() } else { (t..=f).rev().map(|i| i as usize).collect() };
        Some(idx)
    }
}

#[test]
fn list_commands_follow_the_model() {
    let node = Node::standalone(&[]);
    let mut c = node.client();
    let mut rng = fastrand::Rng::with_seed(20);
    let mut model = ListModel { elems: VecDeque::new(), max: 12 };
    assert_eq!(call(&mut c, "lop create q 0 0 12\r\n"), "CREATED\n");
    for step in 0..3000 {
        let n = model.elems.len() as i64;
        match rng.u8(..10) {
            0..=5 => {
                let index = rng.i64(-n - 3..=n + 3);
                let v = format!("v{step}");
                let want = model.insert(index, &v);
                assert_eq!(
                    call(&mut c, &format!("lop insert q {index} {}\r\n{v}\r\n", v.len())),
                    format!("{want}\n"),
                    "step {step}"
                );
            }
            6..=8 => {
                let (from, to) = (rng.i64(-n - 2..=n + 2), rng.i64(-n - 2..=n + 2));
                let got = call(&mut c, &format!("lop get q {from}..{to}\r\n"));
                let want = match model.range(from, to) {
                    None => "NOT_FOUND_ELEMENT\n".to_string(),
                    Some(idx) => {
                        let mut s = format!("VALUE 0 {}\n", idx.len());
                        for i in idx {
                            s.push_str(&format!("{} {}\n", model.elems[i].len(), model.elems[i]));
                        }
                        s + "END\n"
                    }
                };
                assert_eq!(got, want, "step {step}: lop get q {from}..{to}");
            }
            _ => {
                let (from, to) = (rng.i64(-n - 2..=n + 2), rng.i64(-n - 2..=n + 2));
                let got = call(&mut c, &format!("lop delete q {from}..{to}\r\n"));
                let want = match model.range(from, to) {
                    None => "NOT_FOUND_ELEMENT\n",
                    Some(mut idx) => {
                        idx.sort_unstable();
                        for i in idx.into_iter().rev() {
                            model.elems.remove(i);
                        }
                        "DELETED\n"
                    }
                };
                assert_eq!(got, want, "step {step}: lop delete q {from}..{to}");
            }
        }
    }
}

/// A b+tree with maxcount `max` and overflowaction `smallest_silent_trim`: a full tree drops its
/// smallest element for a larger key and refuses a smaller one.
struct BtreeModel {
    elems: BTreeMap<u64, (u8, String)>,
    max: usize,
}

#[test]
fn btree_commands_follow_the_model() {
    let node = Node::standalone(&[]);
    let mut c = node.client();
    let mut rng = fastrand::Rng::with_seed(44);
    let mut model = BtreeModel { elems: BTreeMap::new(), max: 40 };
    assert_eq!(call(&mut c, "bop create t 0 0 40 smallest_silent_trim\r\n"), "CREATED\n");
    for step in 0..4000 {
        match rng.u8(..10) {
            0..=4 => {
                let (k, f) = (rng.u64(..200), rng.u8(..4));
                let v = format!("v{step}");
                let want = if model.elems.contains_key(&k) {
                    "ELEMENT_EXISTS"
                } else if model.elems.len() >= model.max && model.elems.keys().next().is_some_and(|m| k < *m) {
                    "OUT_OF_RANGE"
                } else {
                    if model.elems.len() >= model.max {
                        model.elems.pop_first();
                    }
                    model.elems.insert(k, (f, v.clone()));
                    "STORED"
                };
                let got = call(&mut c, &format!("bop insert t {k} 0x{f:02X} {}\r\n{v}\r\n", v.len()));
                assert_eq!(got, format!("{want}\n"), "step {step}");
            }
            5..=7 => {
                let (a, b) = (rng.u64(..220), rng.u64(..220));
                let (offset, count) = (rng.usize(..4), rng.usize(..8));
                let filter = rng.u8(..4);
                let keys: Vec<u64> = if a <= b {
                    model.elems.range(a..=b).map(|(k, _)| *k).collect()
                } else {
                    model.elems.range(b..=a).rev().map(|(k, _)| *k).collect()
                };
                let keys: Vec<u64> = keys.into_iter().filter(|k| model.elems[k].0 != filter).collect();
                let take = if count == 0 { usize::MAX } else { count };
                let picked: Vec<u64> = keys.into_iter().skip(offset).take(take).collect();
                let got = call(&mut c, &format!("bop get t {a}..{b} 0 NE 0x{filter:02X} {offset} {count}\r\n"));
                let want = if model.elems.is_empty() || offset >= model.elems.len() || picked.is_empty() {
                    "NOT_FOUND_ELEMENT\n".to_string()
                } else {
                    let mut s = format!("VALUE 0 {}\n", picked.len());
                    for k in picked {
                        let (f, v) = &model.elems[&k];
                        s.push_str(&format!("{k} 0x{f:02X} {} {v}\n", v.len()));
                    }
                    s + "END\n"
                };
                assert_eq!(got, want, "step {step}: bop get t {a}..{b} NE {filter} {offset} {count}");
            }
            8 => {
                let (a, b) = (rng.u64(..220), rng.u64(..220));
                let (lo, hi) = (a.min(b), a.max(b));
                let want = model.elems.range(lo..=hi).count();
                assert_eq!(
                    call(&mut c, &format!("bop count t {a}..{b}\r\n")),
                    format!("COUNT={want}\n"),
                    "step {step}"
                );
            }
            _ => {
                let (a, b, count) = (rng.u64(..220), rng.u64(..220), rng.usize(..5));
                let keys: Vec<u64> = if a <= b {
                    model.elems.range(a..=b).map(|(k, _)| *k).collect()
                } else {
                    model.elems.range(b..=a).rev().map(|(k, _)| *k).collect()
                };
                let take = if count == 0 { usize::MAX } else { count };
                let victims: Vec<u64> = keys.into_iter().take(take).collect();
                for k in &victims {
                    model.elems.remove(k);
                }
                let want = if victims.is_empty() { "NOT_FOUND_ELEMENT" } else { "DELETED" };
                let got = call(&mut c, &format!("bop delete t {a}..{b} {count}\r\n"));
                assert_eq!(got, format!("{want}\n"), "step {step}: bop delete t {a}..{b} {count}");
            }
        }
    }
}
