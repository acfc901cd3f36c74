//! The parts of Go's `strconv` that go-bexpr's behaviour depends on: number and boolean
//! coercion of literals (`ParseInt`, `ParseUint`, `ParseFloat`, `ParseBool` with base 0),
//! unquoting of string literals (`Unquote`) and quoting in messages (`Quote`).

use std::fmt;

/// Why a Go `strconv` parse failed (`strconv.ErrSyntax` or `strconv.ErrRange`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumErrorKind {
    /// `invalid syntax`
    Syntax,
    /// `value out of range`
    Range,
}

/// Go's `*strconv.NumError`: which function failed, on what text, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumError {
    /// `ParseInt`, `ParseUint`, `ParseFloat` or `ParseBool`.
    pub func: &'static str,
    /// The text that was parsed.
    pub num: String,
    /// Syntax or range.
    pub kind: NumErrorKind,
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self.kind {
            NumErrorKind::Syntax => "invalid syntax",
            NumErrorKind::Range => "value out of range",
        };
        write!(
            f,
            "strconv.{}: parsing {}: {}",
            self.func,
            quote(&self.num),
            reason
        )
    }
}

fn num_error(func: &'static str, num: &str, kind: NumErrorKind) -> NumError {
    NumError {
        func,
        num: num.to_string(),
        kind,
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`: base prefixes `0b`, `0o`, `0x`, a leading `0` for
/// octal, and underscores between digits.
pub fn parse_uint(s: &str) -> Result<u64, NumError> {
    parse_uint_as(s, "ParseUint")
}

fn parse_uint_as(s0: &str, func: &'static str) -> Result<u64, NumError> {
    let syntax = || num_error(func, s0, NumErrorKind::Syntax);
    let range = || num_error(func, s0, NumErrorKind::Range);
    let bytes = s0.as_bytes();
    if bytes.is_empty() {
        return Err(syntax());
    }
    let (base, digits): (u64, &[u8]) = if bytes[0] == b'0' {
        let prefix = bytes.get(1).map(u8::to_ascii_lowercase);
        match prefix {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let cutoff = u64::MAX / base + 1;
    let mut underscores = false;
    let mut n: u64 = 0;
    for &c in digits {
        let lower = c.to_ascii_lowercase();
        let d = if c == b'_' {
            underscores = true;
            continue;
        } else if c.is_ascii_digit() {
            u64::from(c - b'0')
        } else if lower.is_ascii_lowercase() {
            u64::from(lower - b'a') + 10
        } else {
            return Err(syntax());
        };
        if d >= base {
            return Err(syntax());
        }
        if n >= cutoff {
            return Err(range());
        }
        n *= base;
        n = n.checked_add(d).ok_or_else(range)?;
    }
    if underscores && !underscore_ok(s0) {
        return Err(syntax());
    }
    Ok(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub fn parse_int(s0: &str) -> Result<i64, NumError> {
    if s0.is_empty() {
        return Err(num_error("ParseInt", s0, NumErrorKind::Syntax));
    }
    let (negative, unsigned) = match s0.as_bytes()[0] {
        b'+' => (false, &s0[1..]),
        b'-' => (true, &s0[1..]),
        _ => (false, s0),
    };
    let magnitude = match parse_uint_as(unsigned, "ParseInt") {
        Ok(n) => n,
        Err(e) => {
            return Err(NumError {
                func: "ParseInt",
                num: s0.to_string(),
                kind: e.kind,
            });
        }
    };
    let cutoff: u64 = 1 << 63;
    if !negative && magnitude >= cutoff {
        return Err(num_error("ParseInt", s0, NumErrorKind::Range));
    }
    if negative && magnitude > cutoff {
        return Err(num_error("ParseInt", s0, NumErrorKind::Range));
    }
    if negative {
        // magnitude <= 2^63, so the wrapping negation is exact (2^63 becomes i64::MIN).
        Ok((magnitude as i64).wrapping_neg())
    } else {
        Ok(magnitude as i64)
    }
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let mut bytes = s.as_bytes();
    if let Some(b'-' | b'+') = bytes.first() {
        bytes = &bytes[1..];
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if bytes.len() >= 2
        && bytes[0] == b'0'
        && matches!(bytes[1].to_ascii_lowercase(), b'b' | b'o' | b'x')
    {
        i = 2;
        saw = b'0';
        hex = bytes[1].eq_ignore_ascii_case(&b'x');
    }
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal numbers, `inf`, `infinity` and `nan`
/// (hexadecimal floats and underscores are refused as syntax errors).
pub fn parse_float(s: &str) -> Result<f64, NumError> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let special = ["inf", "infinity", "nan"]
        .iter()
        .any(|w| unsigned.eq_ignore_ascii_case(w));
    let plain = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !special && !plain {
        return Err(num_error("ParseFloat", s, NumErrorKind::Syntax));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_infinite() && !special => {
            Err(num_error("ParseFloat", s, NumErrorKind::Range))
        }
        Ok(v) => Ok(v),
        Err(_) => Err(num_error("ParseFloat", s, NumErrorKind::Syntax)),
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, NumError> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(num_error("ParseBool", s, NumErrorKind::Syntax)),
    }
}

/// Go's `strconv.Unquote` of a double-quoted literal, given the text between the quotes.
/// `None` is Go's `invalid syntax`. Bytes produced by `\x` and octal escapes that do not form
/// UTF-8 are replaced by U+FFFD.
pub fn unquote_double(body: &str) -> Option<String> {
    if !body.contains('\\') && !body.contains('\n') {
        return Some(body.to_string());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '\n' | '"' => return None,
            '\\' => {}
            other => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                continue;
            }
        }
        let (_, esc) = chars.next()?;
        match esc {
            'a' => out.push(0x07),
            'b' => out.push(0x08),
            'f' => out.push(0x0c),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(0x0b),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            'x' | 'u' | 'U' => {
                let width = match esc {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut v: u32 = 0;
                for _ in 0..width {
                    let (_, h) = chars.next()?;
                    v = (v << 4) | h.to_digit(16)?;
                }
                if esc == 'x' {
                    out.push(u8::try_from(v).ok()?);
                } else {
                    let ch = char::from_u32(v)?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
            }
            '0'..='7' => {
                let mut v = esc.to_digit(8)?;
                for _ in 0..2 {
                    let (_, o) = chars.next()?;
                    v = (v << 3) | o.to_digit(8)?;
                }
                out.push(u8::try_from(v).ok()?);
            }
            _ => return None,
        }
    }
    Some(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Go's `strconv.Unquote` of a raw (backtick) literal, given the text between the backticks:
/// carriage returns are dropped.
pub fn unquote_raw(body: &str) -> String {
    body.replace('\r', "")
}

/// Go's `strconv.Quote` (printable characters kept, the rest escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if c == ' ' || !(c.is_control() || c.is_whitespace()) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_follows_go_base_zero() {
        assert_eq!(parse_int("80"), Ok(80));
        assert_eq!(parse_int("-80"), Ok(-80));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(parse_int("0x50"), Ok(80));
        assert_eq!(parse_int("0o17"), Ok(15));
        assert_eq!(parse_int("017"), Ok(15));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        let syntax = |s: &str| parse_int(s).err().map(|e| e.kind);
        for bad in ["", "+", "abc", "08", "1.5", "0x", "_1", "1__0", "1_", "1 "] {
            assert_eq!(syntax(bad), Some(NumErrorKind::Syntax), "{bad:?}");
        }
        assert_eq!(
            parse_int("9223372036854775808").map_err(|e| e.kind),
            Err(NumErrorKind::Range)
        );
        assert_eq!(
            parse_int("abc").map_err(|e| e.to_string()),
            Err("strconv.ParseInt: parsing \"abc\": invalid syntax".to_string())
        );
    }

    #[test]
    fn parse_uint_refuses_signs() {
        assert_eq!(parse_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_uint("18446744073709551616").map_err(|e| e.kind),
            Err(NumErrorKind::Range)
        );
        assert_eq!(
            parse_uint("-1").map_err(|e| e.to_string()),
            Err("strconv.ParseUint: parsing \"-1\": invalid syntax".to_string())
        );
    }

    #[test]
    fn parse_float_and_bool() {
        assert_eq!(parse_float("1.5"), Ok(1.5));
        assert_eq!(parse_float("-2"), Ok(-2.0));
        assert_eq!(parse_float(".5"), Ok(0.5));
        assert_eq!(parse_float("1e3"), Ok(1000.0));
        assert_eq!(parse_float("Inf"), Ok(f64::INFINITY));
        assert!(parse_float("nan").is_ok_and(f64::is_nan));
        assert_eq!(
            parse_float("1e400").map_err(|e| e.kind),
            Err(NumErrorKind::Range)
        );
        assert_eq!(
            parse_float("x").map_err(|e| e.kind),
            Err(NumErrorKind::Syntax)
        );
        assert_eq!(parse_bool("True"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert_eq!(
            parse_bool("yes").map_err(|e| e.to_string()),
            Err("strconv.ParseBool: parsing \"yes\": invalid syntax".to_string())
        );
    }

    #[test]
    fn unquote_handles_go_escapes() {
        assert_eq!(unquote_double("plain"), Some("plain".to_string()));
        assert_eq!(unquote_double(r"a\tb\n"), Some("a\tb\n".to_string()));
        assert_eq!(unquote_double(r"\x41\101\u00e9"), Some("AAé".to_string()));
        assert_eq!(unquote_double(r"\xc3\xa9"), Some("é".to_string()));
        assert_eq!(unquote_double(r"\U0001F600"), Some("😀".to_string()));
        assert_eq!(unquote_double(r"\\"), Some("\\".to_string()));
        for bad in [r"\q", r"\'", r"\x4", r"\400", r"\uD800", "a\nb", "\\"] {
            assert_eq!(unquote_double(bad), None, "{bad:?}");
        }
        assert_eq!(unquote_raw("a\r\nb\\n"), "a\nb\\n");
    }

    #[test]
    fn quote_matches_go() {
        assert_eq!(quote("Port"), "\"Port\"");
        assert_eq!(quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
        assert_eq!(quote("é"), "\"é\"");
    }
}
