//! The load's memcached text protocol: requests encoded straight into a connection's write
//! buffer, replies parsed from its read buffer in order (one reply per request, pipelined). A
//! value's first 16 bytes are its version in hex, so a read says which write it saw.

/// Bytes of a value that carry its version (16 hex digits).
pub const VERSION_BYTES: usize = 16;

/// One reply, matched to the request at the head of the connection's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `STORED`.
    Stored,
    /// `VALUE ...` then `END`: the value's version, if its first bytes carry one.
    Value(Option<u64>),
    /// A bare `END`.
    Miss,
    /// Any other line (`NOT_STORED`, `SERVER_ERROR ...`, `CLIENT_ERROR ...`, `ERROR ...`).
    Error,
}

/// The stream does not parse as replies to what was sent: the connection must be dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desync(pub String);

/// Appends `get <prefix><key>\r\n`.
pub fn encode_get(out: &mut Vec<u8>, prefix: &[u8], key: u32) {
    out.extend_from_slice(b"get ");
    out.extend_from_slice(prefix);
    push_decimal(out, key as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends `set <prefix><key> 0 0 <filler.len()+16>\r\n<version as 16 hex digits><filler>\r\n`.
pub fn encode_set(out: &mut Vec<u8>, prefix: &[u8], key: u32, version: u64, filler: &[u8]) {
    out.extend_from_slice(b"set ");
    out.extend_from_slice(prefix);
    push_decimal(out, key as u64);
    out.extend_from_slice(b" 0 0 ");
    push_decimal(out, (VERSION_BYTES + filler.len()) as u64);
    out.extend_from_slice(b"\r\n");
    for shift in (0..VERSION_BYTES).rev() {
        out.push(b"0123456789abcdef"[((version >> (4 * shift)) & 0xf) as usize]);
    }
    out.extend_from_slice(filler);
    out.extend_from_slice(b"\r\n");
}

/// Parses the reply to a get at the start of `buf`: Ok(None) when it is not complete yet, else the
/// reply and the bytes it took.
pub fn parse_get(buf: &[u8]) -> Result<Option<(Reply, usize)>, Desync> {
    let Some(line_end) = find_crlf(buf) else { return Ok(None) };
    let line = &buf[..line_end];
    if line == b"END" {
        return Ok(Some((Reply::Miss, line_end + 2)));
    }
    if !line.starts_with(b"VALUE ") {
        return Ok(Some((Reply::Error, line_end + 2)));
    }
    let bytes = line
        .split(|b| *b == b' ')
        .nth(3)
        .and_then(|f| std::str::from_utf8(f).ok())
        .and_then(|f| f.parse::<usize>().ok())
        .ok_or_else(|| Desync(format!("bad VALUE line {:?}", String::from_utf8_lossy(line))))?;
    let data_start = line_end + 2;
    let total = data_start + bytes + 2 + b"END\r\n".len();
    if buf.len() < total {
        return Ok(None);
    }
    let data = &buf[data_start..data_start + bytes];
    if &buf[data_start + bytes..total] != b"\r\nEND\r\n" {
        return Err(Desync("a VALUE's data is not followed by END".to_string()));
    }
    let version = (data.len() >= VERSION_BYTES)
        .then(|| std::str::from_utf8(&data[..VERSION_BYTES]).ok())
        .flatten()
        .and_then(|hex| u64::from_str_radix(hex, 16).ok());
    Ok(Some((Reply::Value(version), total)))
}

/// Parses the reply to a set at the start of `buf` (one line).
pub fn parse_set(buf: &[u8]) -> Option<(Reply, usize)> {
    let line_end = find_crlf(buf)?;
    let reply = if &buf[..line_end] == b"STORED" { Reply::Stored } else { Reply::Error };
    Some((reply, line_end + 2))
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = memchr::memchr(b'\n', &buf[from..]) {
        let at = from + at;
        if at > 0 && buf[at - 1] == b'\r' {
            return Some(at - 1);
        }
        from = at + 1;
    }
    None
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let mut out = Vec::new();
        encode_get(&mut out, b"lab:", 42);
        encode_set(&mut out, b"lab:", 7, 0x1f, b"xx");
        assert_eq!(out, b"get lab:42\r\nset lab:7 0 0 18\r\n000000000000001fxx\r\n");
    }

    #[test]
    fn replies() {
        assert_eq!(parse_get(b"EN"), Ok(None));
        assert_eq!(parse_get(b"END\r\nSTORED\r\n"), Ok(Some((Reply::Miss, 5))));
        let hit = b"VALUE lab:7 0 18\r\n000000000000001fxx\r\nEND\r\n";
        for cut in 0..hit.len() {
            assert_eq!(parse_get(&hit[..cut]), Ok(None), "{cut}");
        }
        assert_eq!(parse_get(hit), Ok(Some((Reply::Value(Some(0x1f)), hit.len()))));
        assert_eq!(parse_get(b"VALUE k 0 2\r\nab\r\nEND\r\n"), Ok(Some((Reply::Value(None), 22))));
        assert_eq!(parse_get(b"SERVER_ERROR out of memory\r\n"), Ok(Some((Reply::Error, 28))));
        assert!(parse_get(b"VALUE k 0 2\r\nabcdEND\r\n").is_err());
        assert_eq!(parse_set(b"STORED\r"), None);
        assert_eq!(parse_set(b"STORED\r\n"), Some((Reply::Stored, 8)));
        assert_eq!(parse_set(b"NOT_STORED\r\n"), Some((Reply::Error, 12)));
    }
}
