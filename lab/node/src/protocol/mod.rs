//! The memcached text protocol: an incremental parser over a connection's read buffer that runs
//! each complete command against the store and appends memcached's exact reply bytes.

use std::io::Write;
use std::sync::atomic::Ordering;

mod attr;
mod bop;
mod bop_multi;
mod elems;
mod lop;
mod mop;
mod sop;

pub(crate) use elems::Cmd;

use crate::log;
use crate::state::{bump, ClusterRequest, State, Stop, VERSION};
use crate::store::{DeltaError, Mode, Outcome};

/// arcus-memcached 1.15.0's KEY_MAX_LENGTH ("long key support").
pub const KEY_MAX: usize = 16000;
/// arcus-memcached closes a connection whose command line grows past this without a newline
/// (24 KB: a 16 KB key list and an eflag filter of 100 values fit).
const LINE_MAX: usize = 24 * 1024;
/// ... or, past 1 KB without a newline, starts with more than this many spaces.
const LEADING_SPACES_MAX: usize = 100;
/// A multi-key get line may be longer; beyond this it is refused too.
const GET_LINE_MAX: usize = 1 << 20;

/// What the connection loop must do after a step.
#[derive(Debug)]
pub enum Step {
    /// `n` bytes consumed; parse on
    Done(usize),
    /// the buffer holds no complete command; at least `n` bytes are needed in all
    More(usize),
    /// a cluster request to await; its reply goes out unless `noreply`
    Cluster(usize, ClusterRequest),
    /// close the connection (quit, an endless line)
    Close,
}

/// Per-connection parser state.
#[derive(Default)]
pub struct Conn {
    /// bytes of a refused value still to skip
    swallow: usize,
    pipe: Pipe,
}

/// Most commands one pipeline answers (ch09).
const PIPE_MAX: usize = 500;

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum PipeState {
    #[default]
    Off,
    On,
    /// more than [`PIPE_MAX`] commands
    CountOverflow,
    /// a CLIENT_ERROR, SERVER_ERROR or ERROR stopped it
    BadError,
}

/// A pipeline of `pipe` commands (ch09): their reply lines are kept and sent as one
/// `RESPONSE <n>` block after the last command, the one without `pipe`.
#[derive(Default)]
struct Pipe {
    state: PipeState,
    count: usize,
    lines: Vec<u8>,
}

impl Pipe {
    /// Keeps a reply line; true when the pipeline must stop here (and its block go out).
    fn save(&mut self, line: &str, noreply: bool) -> bool {
        if self.state != PipeState::On {
            // a reply while an error is pending: the pipeline was cut short, start over
            *self = Pipe::default();
            return false;
        }
        self.lines.extend_from_slice(line.as_bytes());
        self.lines.extend_from_slice(b"\r\n");
        self.count += 1;
        if line.starts_with("CLIENT_ERROR") || line.starts_with("SERVER_ERROR") || line.starts_with("ERROR") {
            self.state = PipeState::BadError;
            return true;
        }
        if self.count >= PIPE_MAX && noreply {
            self.state = PipeState::CountOverflow;
            return true;
        }
        false
    }

    /// Writes the block; `last` = the command without `pipe` ended it.
    fn done(&mut self, last: bool, out: &mut Vec<u8>) {
        let _ = write!(out, "RESPONSE {}\r\n", self.count);
        out.extend_from_slice(&self.lines);
        match self.state {
            PipeState::On => {
                out.extend_from_slice(b"END\r\n");
                *self = Pipe::default();
                return;
            }
            PipeState::CountOverflow => out.extend_from_slice(b"PIPE_ERROR command overflow\r\n"),
            _ => out.extend_from_slice(b"PIPE_ERROR bad error\r\n"),
        }
        self.lines.clear();
        if last {
            *self = Pipe::default();
        }
    }
}

fn is(t: &[u8], s: &str) -> bool {
    t == s.as_bytes()
}

fn num<T: std::str::FromStr>(t: &[u8]) -> Option<T> {
    std::str::from_utf8(t).ok()?.parse().ok()
}

/// Runs at most one command from the front of `buf`, appending its reply to `out`.
pub fn step(conn: &mut Conn, buf: &[u8], state: &State, out: &mut Vec<u8>) -> Step {
    if conn.swallow > 0 {
        let n = conn.swallow.min(buf.len());
        conn.swallow -= n;
        return if n == 0 { Step::More(1) } else { Step::Done(n) };
    }
    let multiget = buf.starts_with(b"get ") || buf.starts_with(b"gets ");
    let limit = if multiget { GET_LINE_MAX } else { LINE_MAX };
    let Some(nl) = memchr::memchr(b'\n', &buf[..buf.len().min(limit + 1)]) else {
        let spaces = buf.iter().take_while(|&&b| b == b' ').count();
        let too_spaced = buf.len() > 1024 && spaces > LEADING_SPACES_MAX;
        return if buf.len() > limit || too_spaced { Step::Close } else { Step::More(buf.len() + 1) };
    };
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let tokens: smallvec::SmallVec<[&[u8]; 8]> = line.split(|&b| b == b' ').filter(|t| !t.is_empty()).collect();
    let consumed = nl + 1;
    let verb = tokens.first().copied().unwrap_or(b"");
    let n = tokens.len();
    let Conn { swallow, pipe } = conn;
    let mut r = Reply { out, noreply: false, pipe };
    let mut cmd = Cmd { state, tokens: &tokens, rest: &buf[consumed..], consumed, swallow };
    match verb {
        b"get" | b"gets" if n >= 2 => get(state, &tokens[1..], None, verb == b"gets", &mut r),
        b"gat" | b"gats" if n >= 2 => match num::<i64>(tokens[1]) {
            Some(exp) => get(state, &tokens[2..], Some(exp), verb == b"gats", &mut r),
            None => r.line("CLIENT_ERROR invalid exptime argument"),
        },
        b"set" | b"add" | b"replace" | b"append" | b"prepend" if n == 5 || n == 6 => {
            return update(cmd.swallow, state, &tokens, &buf[consumed..], consumed, &mut r);
        }
        b"cas" if n == 6 || n == 7 => return update(cmd.swallow, state, &tokens, &buf[consumed..], consumed, &mut r),
        b"delete" if (2..=4).contains(&n) => delete(state, &tokens, &mut r),
        b"incr" | b"decr" if n == 3 || n == 4 => delta(state, &tokens, verb == b"incr", &mut r),
        b"touch" if n == 3 || n == 4 => touch(state, &tokens, &mut r),
        b"flush_all" if n <= 3 => flush_all(state, &tokens, &mut r),
        b"version" if n == 1 => r.line(&format!("VERSION {VERSION}")),
        b"verbosity" if n == 2 || n == 3 => {
            r.noreply = is(tokens[n - 1], "noreply");
            match num::<u8>(tokens[1]) {
                Some(level) => {
                    state.verbosity.store(level, Ordering::Relaxed);
                    r.line("OK")
                }
                None => r.line("CLIENT_ERROR bad command line format"),
            }
        }
        b"stats" => stats(state, &tokens[1..], &mut r),
        b"quit" if n == 1 => return Step::Close,
        b"ready" if n == 1 => r.line(if state.ready() { "READY" } else { "NOT_READY" }),
        b"config" if n >= 2 => config(state, &tokens[1..], &mut r),
        b"zkensemble" if n >= 2 => {
            if let Some(req) = zkensemble(state, &tokens[1..], &mut r) {
                return Step::Cluster(consumed, req);
            }
        }
        b"shutdown" if n <= 2 => shutdown(state, &tokens[1..], &mut r),
        b"lop" if n >= 3 => return lop::run(&mut cmd, &mut r),
        b"sop" if n >= 3 => return sop::run(&mut cmd, &mut r),
        b"mop" if n >= 3 => return mop::run(&mut cmd, &mut r),
        b"bop" if n >= 3 => return bop::run(&mut cmd, &mut r),
        b"getattr" if n >= 2 => attr::getattr(&cmd, &mut r),
        b"setattr" if n >= 3 => attr::setattr(&cmd, &mut r),
        _ => r.unknown(state.settings.unknown_reply),
    }
    Step::Done(consumed)
}

pub(crate) struct Reply<'a> {
    out: &'a mut Vec<u8>,
    noreply: bool,
    pipe: &'a mut Pipe,
}

impl Reply<'_> {
    /// One reply line, as memcached's out_string: kept for a pipeline, dropped for noreply.
    fn line(&mut self, s: &str) {
        let asked_noreply = self.noreply;
        if self.pipe.state != PipeState::Off && self.pipe.save(s, self.noreply) {
            self.noreply = false;
        }
        if self.noreply {
            return;
        }
        if self.pipe.state != PipeState::Off {
            return self.pipe.done(!asked_noreply, self.out);
        }
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// The unknown-command reply: a line like the others, so that it also ends a pipeline
    /// stopped by an error.
    fn unknown(&mut self, reply: &[u8]) {
        let text = String::from_utf8_lossy(reply);
        self.line(text.trim_end_matches("\r\n"))
    }

    /// `noreply` or `pipe` as the last token (memcached's set_pipe_noreply_maybe).
    fn pipe_or_noreply(&mut self, last: &[u8]) {
        self.noreply = matches!(last, b"noreply" | b"pipe");
        if last == b"pipe" && self.pipe.state == PipeState::Off {
            self.pipe.state = PipeState::On;
        }
    }

    /// `pipe` as the last token only (set_pipe_maybe).
    fn pipe_only(&mut self, last: &[u8]) {
        self.noreply = last == b"pipe";
        if self.noreply && self.pipe.state == PipeState::Off {
            self.pipe.state = PipeState::On;
        }
    }

    /// False when a pipeline stopped by an error is still being skipped: the command is not
    /// run (check_and_handle_pipe_state).
    fn pipe_may_run(&mut self) -> bool {
        if matches!(self.pipe.state, PipeState::Off | PipeState::On) {
            return true;
        }
        if self.noreply {
            self.noreply = false;
        } else {
            *self.pipe = Pipe::default();
        }
        false
    }
    fn raw(&mut self, b: &[u8]) {
        if !self.noreply {
            self.out.extend_from_slice(b);
        }
    }
    /// Errors memcached sends even with noreply.
    fn error(&mut self, s: &str) {
        self.noreply = false;
        self.line(s);
    }
}

fn get(state: &State, keys: &[&[u8]], touch: Option<i64>, cas: bool, r: &mut Reply) {
    if keys.iter().any(|k| k.len() > KEY_MAX) {
        return r.line("CLIENT_ERROR bad command line format");
    }
    let c = &state.counters;
    for key in keys {
        bump(if touch.is_some() { &c.cmd_touch } else { &c.cmd_get });
        let out = &mut *r.out;
        let hit = state.store.get(key, touch, |item| {
            out.extend_from_slice(b"VALUE ");
            out.extend_from_slice(item.key);
            let _ = write!(out, " {} {}", item.flags, item.value.len());
            if cas {
                let _ = write!(out, " {}", item.cas);
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(item.value);
            out.extend_from_slice(b"\r\n");
        });
        match (hit.is_some(), touch.is_some()) {
            (true, false) => bump(&c.get_hits),
            (false, false) => bump(&c.get_misses),
            (true, true) => bump(&c.touch_hits),
            (false, true) => bump(&c.touch_misses),
        }
    }
    r.out.extend_from_slice(b"END\r\n");
}

fn update(swallow: &mut usize, state: &State, t: &[&[u8]], rest: &[u8], consumed: usize, r: &mut Reply) -> Step {
    let is_cas = t[0] == b"cas";
    let argc = if is_cas { 6 } else { 5 };
    r.noreply = t.len() == argc + 1 && is(t[argc], "noreply");
    let key = t[1];
    let (Some(flags), Some(exptime), Some(vlen)) = (num::<u32>(t[2]), num::<i32>(t[3]), num::<i32>(t[4])) else {
        r.line("CLIENT_ERROR bad command line format");
        return Step::Done(consumed);
    };
    let cas = if is_cas { num::<u64>(t[5]) } else { Some(0) };
    let (Some(cas), true, true) = (cas, vlen >= 0, key.len() <= KEY_MAX) else {
        r.line("CLIENT_ERROR bad command line format");
        return Step::Done(consumed);
    };
    let vlen = vlen as usize;
    if exptime == -1 {
        // a sticky item: arcus-memcached 1.15.0 with its default sticky limit refuses it
        bump(&state.counters.cmd_set);
        r.error("SERVER_ERROR out of memory storing object");
        *swallow = vlen + 2;
        return Step::Done(consumed);
    }
    if state.store.too_large(key.len(), vlen) {
        bump(&state.counters.cmd_set);
        // drop any old value, as memcached does, then skip the data; Arcus 1.15.0 says
        // CLIENT_ERROR here (getset.t), where memcached says SERVER_ERROR
        state.store.delete(key);
        r.error("CLIENT_ERROR object too large for cache");
        *swallow = vlen + 2;
        return Step::Done(consumed);
    }
    if rest.len() < vlen + 2 {
        return Step::More(consumed + vlen + 2);
    }
    let total = consumed + vlen + 2;
    if &rest[vlen..vlen + 2] != b"\r\n" {
        r.line("CLIENT_ERROR bad data chunk");
        return Step::Done(total);
    }
    let mode = match t[0] {
        b"set" => Mode::Set,
        b"add" => Mode::Add,
        b"replace" => Mode::Replace,
        b"append" => Mode::Append,
        b"prepend" => Mode::Prepend,
        _ => Mode::Cas(cas),
    };
    bump(&state.counters.cmd_set);
    let res = state.store.store(mode, key, flags, exptime as i64, &rest[..vlen]);
    if is_cas {
        bump(match res {
            Outcome::Stored => &state.counters.cas_hits,
            Outcome::Exists => &state.counters.cas_badval,
            _ => &state.counters.cas_misses,
        });
    }
    match res {
        Outcome::Stored => r.line("STORED"),
        Outcome::NotStored => r.line("NOT_STORED"),
        Outcome::Exists => r.line("EXISTS"),
        Outcome::NotFound => r.line("NOT_FOUND"),
        Outcome::TooLarge => r.error("SERVER_ERROR object too large for cache"),
        Outcome::TypeMismatch => r.line("TYPE_MISMATCH"),
    }
    Step::Done(total)
}

fn delete(state: &State, t: &[&[u8]], r: &mut Reply) {
    let noreply = is(t[t.len() - 1], "noreply");
    let valid = match t.len() {
        2 => true,
        3 => is(t[2], "0") || noreply,
        _ => is(t[2], "0") && noreply,
    };
    r.noreply = noreply;
    if !valid {
        return r.line("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
    }
    if t[1].len() > KEY_MAX {
        return r.line("CLIENT_ERROR bad command line format");
    }
    if state.store.delete(t[1]) {
        bump(&state.counters.delete_hits);
        r.line("DELETED")
    } else {
        bump(&state.counters.delete_misses);
        r.line("NOT_FOUND")
    }
}

fn delta(state: &State, t: &[&[u8]], incr: bool, r: &mut Reply) {
    r.noreply = t.len() == 4 && is(t[3], "noreply");
    if t[1].len() > KEY_MAX {
        return r.line("CLIENT_ERROR bad command line format");
    }
    let Some(d) = num::<u64>(t[2]) else {
        return r.line("CLIENT_ERROR invalid numeric delta argument");
    };
    let c = &state.counters;
    match state.store.delta(t[1], incr, d) {
        Ok(v) => {
            bump(if incr { &c.incr_hits } else { &c.decr_hits });
            r.line(&v.to_string())
        }
        Err(DeltaError::NotFound) => {
            bump(if incr { &c.incr_misses } else { &c.decr_misses });
            r.line("NOT_FOUND")
        }
        Err(DeltaError::NonNumeric) => r.line("CLIENT_ERROR cannot increment or decrement non-numeric value"),
        Err(DeltaError::TypeMismatch) => r.line("TYPE_MISMATCH"),
    }
}

fn touch(state: &State, t: &[&[u8]], r: &mut Reply) {
    r.noreply = t.len() == 4 && is(t[3], "noreply");
    if t[1].len() > KEY_MAX {
        return r.line("CLIENT_ERROR bad command line format");
    }
    let Some(exp) = num::<i64>(t[2]) else {
        return r.line("CLIENT_ERROR invalid exptime argument");
    };
    bump(&state.counters.cmd_touch);
    if state.store.touch(t[1], exp) {
        bump(&state.counters.touch_hits);
        r.line("TOUCHED")
    } else {
        bump(&state.counters.touch_misses);
        r.line("NOT_FOUND")
    }
}

fn flush_all(state: &State, t: &[&[u8]], r: &mut Reply) {
    r.noreply = is(t[t.len() - 1], "noreply");
    let args = t.len() - 1 - r.noreply as usize;
    let delay = match args {
        0 => Some(0),
        1 => num::<i64>(t[1]),
        _ => None,
    };
    let Some(delay) = delay else {
        return r.line("CLIENT_ERROR invalid exptime argument");
    };
    bump(&state.counters.cmd_flush);
    state.store.flush(delay);
    r.line("OK")
}

fn stats(state: &State, args: &[&[u8]], r: &mut Reply) {
    let mut s = String::with_capacity(2048);
    let mut stat = |k: &str, v: &dyn std::fmt::Display| {
        use std::fmt::Write as _;
        let _ = write!(s, "STAT {k} {v}\r\n");
    };
    match args {
        [] => general_stats(state, &mut stat),
        [a] if is(a, "settings") => {
            let set = &state.settings;
            stat("maxbytes", &state.store.limit());
            stat("maxconns", &set.max_conns);
            stat("tcpport", &set.port);
            stat("verbosity", &state.verbosity.load(Ordering::Relaxed));
            stat("evictions", &"on");
            stat("num_threads", &set.threads);
            stat("stat_key_prefix", &set.delimiter);
            stat("cas_enabled", &"yes");
            stat("tcp_backlog", &set.backlog);
            stat("item_size_max", &set.item_max);
            stat("hb_timeout", &10000);
            stat("hb_failstop", &60000);
        }
        [a] if is(a, "zookeeper") => {
            let zk = state.zk.as_ref();
            let flag = |f: Option<bool>| if f.unwrap_or(false) { "true" } else { "false" };
            stat("zk_libversion", &"zookeeper-client-0.11");
            stat("zk_timeout", &zk.map_or(0, |z| z.timeout_ms.load(Ordering::Relaxed)));
            let failstop = zk.is_none_or(|z| z.failstop.load(Ordering::Relaxed));
            stat("zk_failstop", &if failstop { "on" } else { "off" });
            stat("zk_connected", &flag(zk.map(|z| z.connected.load(Ordering::Relaxed))));
            stat("zk_ready", &flag(zk.map(|z| z.ready.load(Ordering::Relaxed))));
        }
        [a] if is(a, "reset") => return r.line("RESET"),
        _ => return r.raw(state.settings.unknown_reply),
    }
    r.out.extend_from_slice(s.as_bytes());
    r.out.extend_from_slice(b"END\r\n");
}

fn general_stats(state: &State, stat: &mut dyn FnMut(&str, &dyn std::fmt::Display)) {
    let c = &state.counters;
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let st = state.store.stats();
    let (user, sys) = rusage();
    stat("pid", &std::process::id());
    stat("uptime", &state.started.elapsed().as_secs());
    stat("time", &crate::store::now());
    stat("version", &VERSION);
    stat("pointer_size", &64);
    stat("rusage_user", &format_args!("{user:.6}"));
    stat("rusage_system", &format_args!("{sys:.6}"));
    stat("max_connections", &state.settings.max_conns);
    stat("curr_connections", &c.curr_conns.load(Ordering::Relaxed));
    stat("total_connections", &ld(&c.total_conns));
    stat("rejected_connections", &ld(&c.rejected_conns));
    stat("cmd_get", &ld(&c.cmd_get));
    stat("cmd_set", &ld(&c.cmd_set));
    stat("cmd_flush", &ld(&c.cmd_flush));
    stat("cmd_touch", &ld(&c.cmd_touch));
    stat("get_hits", &ld(&c.get_hits));
    stat("get_misses", &ld(&c.get_misses));
    stat("delete_misses", &ld(&c.delete_misses));
    stat("delete_hits", &ld(&c.delete_hits));
    stat("incr_misses", &ld(&c.incr_misses));
    stat("incr_hits", &ld(&c.incr_hits));
    stat("decr_misses", &ld(&c.decr_misses));
    stat("decr_hits", &ld(&c.decr_hits));
    stat("cas_misses", &ld(&c.cas_misses));
    stat("cas_hits", &ld(&c.cas_hits));
    stat("cas_badval", &ld(&c.cas_badval));
    stat("touch_hits", &ld(&c.touch_hits));
    stat("touch_misses", &ld(&c.touch_misses));
    stat("limit_maxbytes", &st.limit_maxbytes);
    stat("threads", &state.settings.threads);
    stat("bytes", &st.bytes);
    stat("curr_items", &st.curr_items);
    stat("total_items", &st.total_items);
    stat("evictions", &st.evictions);
    stat("hb_count", &ld(&c.hb_count));
    stat("hb_latency", &ld(&c.hb_latency_ms));
}

fn rusage() -> (f64, f64) {
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeVal;
    let secs = |t: TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    // getrusage(RUSAGE_SELF) cannot fail; were it to, the times read 0 (as the zeroed struct did).
    getrusage(UsageWho::RUSAGE_SELF).map_or((0.0, 0.0), |ru| (secs(ru.user_time()), secs(ru.system_time())))
}

fn config(state: &State, t: &[&[u8]], r: &mut Reply) {
    match t {
        [k] if is(k, "zkfailstop") => {
            let on = state.zk.as_ref().is_none_or(|z| z.failstop.load(Ordering::Relaxed));
            r.line(if on { "zkfailstop on" } else { "zkfailstop off" });
            r.line("END")
        }
        [k, v] if is(k, "zkfailstop") => {
            let on = match *v {
                b"on" => true,
                b"off" => false,
                _ => return r.line("CLIENT_ERROR bad value"),
            };
            if let Some(zk) = &state.zk {
                zk.failstop.store(on, Ordering::Relaxed);
            }
            log!("zkfailstop set to {}", if on { "on" } else { "off" });
            r.line("END")
        }
        [k] if is(k, "memlimit") => {
            r.line(&format!("memlimit {}", state.store.limit() / (1024 * 1024)));
            r.line("END")
        }
        [k, v] if is(k, "memlimit") => match num::<usize>(v) {
            Some(mb)
                if mb > 0 && mb.checked_mul(1024 * 1024).is_some_and(|b| b as u64 >= state.store.stats().bytes) =>
            {
                state.store.set_limit(mb * 1024 * 1024);
                r.line("END")
            }
            Some(_) => r.line("CLIENT_ERROR bad value"),
            None => r.line("CLIENT_ERROR bad command line format"),
        },
        [k, rest @ ..] if rest.len() <= 1 && coll_size_limit(state, k).is_some() => {
            let Some((name, limit)) = coll_size_limit(state, k) else { return };
            config_limit(name, limit, rest.first().copied(), r)
        }
        _ => r.line("CLIENT_ERROR bad command line format"),
    }
}

/// `config max_<kind>_size` and `config max_element_bytes`: the setting they show or change.
fn coll_size_limit<'a>(state: &'a State, key: &[u8]) -> Option<(&'static str, &'a std::sync::atomic::AtomicU32)> {
    let l = &state.coll_limits;
    Some(match key {
        b"max_list_size" => ("max_list_size", &l.max_list_size),
        b"max_set_size" => ("max_set_size", &l.max_set_size),
        b"max_map_size" => ("max_map_size", &l.max_map_size),
        b"max_btree_size" => ("max_btree_size", &l.max_btree_size),
        b"max_element_bytes" => ("max_element_bytes", &l.max_element_bytes),
        _ => return None,
    })
}

/// Shows a collection limit, or sets it as arcus-memcached's engine does: a collection size may
/// only grow (a negative or too large one means 1000000), element bytes lie in 1 KB..=32 KB.
fn config_limit(name: &str, limit: &std::sync::atomic::AtomicU32, value: Option<&[u8]>, r: &mut Reply) {
    use crate::coll::num;
    let Some(v) = value else {
        return r.line(&format!("{name} {}\r\nEND", limit.load(Ordering::Relaxed)));
    };
    let new = if name == "max_element_bytes" {
        match num::parse_u32(v) {
            None => return r.line("CLIENT_ERROR bad command line format"),
            Some(b) if (1024..=32 * 1024).contains(&b) => b,
            Some(_) => return r.line("CLIENT_ERROR bad value"),
        }
    } else {
        match num::parse_i32(v) {
            None => return r.line("CLIENT_ERROR bad command line format"),
            Some(m) if !(0..=1_000_000).contains(&m) => 1_000_000,
            Some(m) if m as u32 <= limit.load(Ordering::Relaxed) => return r.line("CLIENT_ERROR bad value"),
            Some(m) => m as u32,
        }
    };
    limit.store(new, Ordering::Relaxed);
    r.line("END")
}

/// The ensemble as the ZooKeeper C client reports it to arcus-memcached: each server's resolved
/// `ip:port` followed by a space (the real client also shuffles them; a list is kept in order here).
fn resolved_ensemble(list: &str) -> String {
    use std::net::ToSocketAddrs;
    list.split(',')
        .map(|server| {
            let resolved = server.to_socket_addrs().ok().and_then(|mut addrs| addrs.find(|a| a.is_ipv4()));
            format!("{} ", resolved.map_or(server.to_string(), |a| a.to_string()))
        })
        .collect()
}

fn zkensemble(state: &State, t: &[&[u8]], r: &mut Reply) -> Option<ClusterRequest> {
    let Some(zk) = &state.zk else {
        r.line("ERROR not using ZooKeeper");
        return None;
    };
    match t {
        [s] if is(s, "get") => {
            if zk.ready.load(Ordering::Relaxed) || zk.connected.load(Ordering::Relaxed) {
                let list = zk.ensemble.lock().unwrap().clone();
                r.raw(format!("{}\r\n\n\r\n", resolved_ensemble(&list)).as_bytes());
            } else {
                r.line("ERROR failed to get the ensemble address");
            }
            None
        }
        [s, list] if is(s, "set") => Some(ClusterRequest::SetEnsemble(String::from_utf8_lossy(list).into_owned())),
        [s] if is(s, "rejoin") => Some(ClusterRequest::Rejoin),
        _ => {
            r.line("CLIENT_ERROR bad command line format");
            None
        }
    }
}

fn shutdown(state: &State, t: &[&[u8]], r: &mut Reply) {
    let secs = match t {
        [] => 2,
        [s] => match num::<i64>(s) {
            Some(n @ 0..=600) => n as u64,
            Some(_) => return r.line("CLIENT_ERROR invalid arguments"),
            None => return r.line("CLIENT_ERROR bad command line format"),
        },
        _ => return r.line("CLIENT_ERROR bad command line format"),
    };
    if state.request_stop(Stop::Command(secs)) {
        // "dynamic" is the bare `shutdown` (its default delay), as arcus-memcached counts it
        log!("shutdown scheduled (time={secs}, dynamic={})", t.is_empty() as u8);
        r.line("OK")
    } else {
        r.line("DENIED")
    }
}
