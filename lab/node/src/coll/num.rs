//! Numbers as arcus-memcached's `safe_strto*` read them: C's strtol family (leading blanks and a
//! sign allowed), the whole token consumed, in range; unsigned ones refuse a minus sign on a value
//! that wraps.

fn text(t: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(t).ok()?.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    (!s.is_empty()).then_some(s)
}

pub fn parse_i64(t: &[u8]) -> Option<i64> {
    text(t)?.parse().ok()
}

pub fn parse_i32(t: &[u8]) -> Option<i32> {
    text(t)?.parse().ok()
}

/// strtoull: "-N" wraps to 2^64-N, which safe_strtoull refuses unless it fits as a signed value.
pub fn parse_u64(t: &[u8]) -> Option<u64> {
    let s = text(t)?;
    match s.strip_prefix('-') {
        Some(rest) => {
            let v: u64 = rest.strip_prefix('+').map_or(rest, |r| r).parse().ok()?;
            let wrapped = 0u64.wrapping_sub(v);
            ((wrapped as i64) >= 0).then_some(wrapped)
        }
        None => s.parse().ok(),
    }
}

/// strtoul then a u32 range check: a negative number is out of range unless it is 0.
pub fn parse_u32(t: &[u8]) -> Option<u32> {
    let s = text(t)?;
    match s.strip_prefix('-') {
        Some(rest) => (rest.parse::<u64>().ok()? == 0).then_some(0),
        None => s.parse().ok(),
    }
}

/// `0x<even number of hex digits>`, 1..=31 bytes.
pub fn parse_hex(t: &[u8]) -> Option<smallvec::SmallVec<[u8; 8]>> {
    let h = t.strip_prefix(b"0x")?;
    if h.is_empty() || h.len() > 62 || h.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    h.chunks(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// Upper-case hex with `0x`, as replies print bkeys and eflags.
pub fn hex(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(b"0x");
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_rules() {
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_i32(b"12x"), None);
        assert_eq!(parse_hex(b"0x0aFF").as_deref(), Some(&[10u8, 255][..]));
        assert_eq!(parse_hex(b"0x0"), None);
        assert_eq!(parse_hex(b"0x"), None);
    }
}
