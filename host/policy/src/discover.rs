//! go-discover's argument syntax (`"provider=aws tag_key=x addrs=\"a b\""`) and the logic of
//! praetor's built-in join providers: `static`, `file` and `dns`.

/// Parses a go-discover entry into its key/value pairs, in order (go-discover's `Parse`).
///
/// Pairs are separated by spaces; keys and values containing spaces, `=`, backslashes or
/// double quotes are double-quoted, with Go escapes inside (`\"`, `\\`, `\n`, `\t`, `\xNN`,
/// `\uNNNN`, ...). An empty entry gives no pairs. Errors use go-discover's texts, e.g.
/// `"addrs: missing value"`, `"tag_key: duplicate key"`, `"x: missing '='"`.
pub fn parse_args(entry: &str) -> Result<Vec<(String, String)>, String> {
    #[derive(PartialEq)]
    enum State {
        Key,
        Equal,
        Value,
    }
    let chars: Vec<char> = entry.trim().chars().collect();
    let mut rest = chars.as_slice();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut state = State::Key;
    let mut key = String::new();
    while !rest.is_empty() {
        let (item, consumed) = lex(rest);
        rest = rest.get(consumed..).unwrap_or_default();
        match state {
            State::Key => match item {
                Item::Text(text) => {
                    if pairs.iter().any(|(k, _)| *k == text) {
                        return Err(format!("{text}: duplicate key"));
                    }
                    key = text;
                    state = State::Equal;
                }
                Item::Equal => {
                    return Err(format!(
                        "{key}: - equals in key's value, enclosing quotes needed"
                    ));
                }
                Item::Error(message) => {
                    return Err(format!("{key}: error with key=value pair {message}"));
                }
            },
            State::Equal => match item {
                Item::Equal => state = State::Value,
                _ => return Err(format!("{key}: missing '='")),
            },
            State::Value => match item {
                Item::Text(text) => {
                    pairs.push((key.clone(), text));
                    state = State::Key;
                }
                Item::Error(message) => return Err(format!("{key}: {message}")),
                Item::Equal => return Err(format!("{key}: missing value")),
            },
        }
    }
    match state {
        State::Equal => Err(format!("{key}: missing '='")),
        State::Value => Err(format!("{key}: missing value")),
        State::Key => Ok(pairs),
    }
}

enum Item {
    Text(String),
    Equal,
    Error(String),
}

/// go-discover's `lex`: the next token of `s` and how many chars it used.
fn lex(s: &[char]) -> (Item, usize) {
    #[derive(Clone, Copy)]
    enum Lex {
        Start,
        Equal,
        Text,
        QText,
        QTextEnd,
        QTextEsc,
    }
    let text = |upto: usize| -> String { s[..upto].iter().collect::<String>().trim().to_string() };
    let mut state = Lex::Start;
    for (i, &c) in s.iter().enumerate() {
        match state {
            Lex::Start => match c {
                ' ' => {}
                '=' => state = Lex::Equal,
                '"' => state = Lex::QText,
                _ => state = Lex::Text,
            },
            Lex::Equal => return (Item::Equal, i),
            Lex::Text => {
                if c == '=' || c == ' ' {
                    return (Item::Text(text(i)), i);
                }
            }
            Lex::QText => match c {
                '"' => state = Lex::QTextEnd,
                '\\' => state = Lex::QTextEsc,
                _ => {}
            },
            Lex::QTextEsc => state = Lex::QText,
            Lex::QTextEnd => {
                return match unquote(&text(i)) {
                    Ok(v) => (Item::Text(v), i),
                    Err(e) => (Item::Error(e), i),
                };
            }
        }
    }
    let n = s.len();
    match state {
        Lex::Equal => (Item::Equal, n),
        Lex::QText => (Item::Error("unbalanced quotes".to_string()), n),
        Lex::QTextEsc => (Item::Error("unterminated escape sequence".to_string()), n),
        Lex::QTextEnd => match unquote(&text(n)) {
            Ok(v) => (Item::Text(v), n),
            Err(e) => (Item::Error(e), n),
        },
        Lex::Start | Lex::Text => (Item::Text(text(n)), n),
    }
}

/// Go's `strconv.Unquote` for a double-quoted string; errors are Go's "invalid syntax".
fn unquote(quoted: &str) -> Result<String, String> {
    const SYNTAX: &str = "invalid syntax";
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| SYNTAX.to_string())?;
    if inner.contains('\n') {
        return Err(SYNTAX.to_string());
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Err(SYNTAX.to_string()),
            '\\' => {}
            _ => {
                out.push(c);
                continue;
            }
        }
        let escape = chars.next().ok_or_else(|| SYNTAX.to_string())?;
        let mut hex = |digits: usize| -> Result<u32, String> {
            let mut v = 0u32;
            for _ in 0..digits {
                let d = chars
                    .next()
                    .and_then(|c| c.to_digit(16))
                    .ok_or_else(|| SYNTAX.to_string())?;
                v = v * 16 + d;
            }
            Ok(v)
        };
        let decoded = match escape {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' => '\\',
            '"' => '"',
            'x' => {
                // A byte; only ASCII bytes form a valid UTF-8 string on their own.
                let byte = hex(2)?;
                char::from_u32(byte)
                    .filter(char::is_ascii)
                    .ok_or_else(|| SYNTAX.to_string())?
            }
            'u' => char::from_u32(hex(4)?).ok_or_else(|| SYNTAX.to_string())?,
            'U' => char::from_u32(hex(8)?).ok_or_else(|| SYNTAX.to_string())?,
            '0'..='7' => {
                let mut v = escape.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = chars
                        .next()
                        .and_then(|c| c.to_digit(8))
                        .ok_or_else(|| SYNTAX.to_string())?;
                    v = v * 8 + d;
                }
                char::from_u32(v)
                    .filter(char::is_ascii)
                    .ok_or_else(|| SYNTAX.to_string())?
            }
            _ => return Err(SYNTAX.to_string()),
        };
        out.push(decoded);
    }
    Ok(out)
}

/// The value of `key` in parsed arguments.
pub fn arg<'a>(args: &'a [(String, String)], key: &str) -> Option<&'a str> {
    args.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The `provider` argument, if any (an entry without one is a plain address in Consul).
pub fn provider(args: &[(String, String)]) -> Option<&str> {
    arg(args, "provider")
}

fn required<'a>(
    args: &'a [(String, String)],
    provider: &str,
    key: &str,
) -> Result<&'a str, String> {
    match arg(args, key) {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("{provider}: {key} is required")),
    }
}

/// The `static` provider: `addrs="a b c"`, addresses separated by whitespace.
pub fn static_addrs(args: &[(String, String)]) -> Result<Vec<String>, String> {
    let addrs = required(args, "static", "addrs")?;
    Ok(addrs.split_whitespace().map(str::to_string).collect())
}

/// The `file` provider's path argument: `path=/etc/praetor/join.txt`.
pub fn file_path(args: &[(String, String)]) -> Result<&str, String> {
    required(args, "file", "path")
}

/// The `file` provider's content: one address per line; `#` starts a comment (whole line or
/// trailing); blank lines are skipped. Whitespace-separated words on a line are separate
/// addresses.
pub fn file_addrs(content: &str) -> Vec<String> {
    content
        .lines()
        .map(|line| line.split_once('#').map_or(line, |(before, _)| before))
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect()
}

/// The record type a `dns` provider entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsKind {
    A,
    Aaaa,
    Srv,
}

impl DnsKind {
    /// The resolver's name for it ("A", "AAAA", "SRV").
    pub fn as_str(self) -> &'static str {
        match self {
            DnsKind::A => "A",
            DnsKind::Aaaa => "AAAA",
            DnsKind::Srv => "SRV",
        }
    }
}

/// A parsed `dns` provider entry: `name=consul.example.com type=A|AAAA|SRV port=8301`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    pub name: String,
    pub kind: DnsKind,
    /// Appended to A/AAAA answers; SRV answers carry their own port.
    pub port: Option<u16>,
}

/// Reads a `dns` provider entry. `type` defaults to A; `port` must be 1-65535.
pub fn dns_query(args: &[(String, String)]) -> Result<DnsQuery, String> {
    let name = required(args, "dns", "name")?.trim().to_string();
    let kind = match arg(args, "type").map(str::to_ascii_uppercase).as_deref() {
        None | Some("A") => DnsKind::A,
        Some("AAAA") => DnsKind::Aaaa,
        Some("SRV") => DnsKind::Srv,
        Some(other) => return Err(format!("dns: type must be A, AAAA or SRV, not \"{other}\"")),
    };
    let port = match arg(args, "port") {
        None => None,
        Some(p) => match p.trim().parse::<u16>() {
            Ok(port) if port != 0 => Some(port),
            _ => return Err(format!("dns: invalid port \"{p}\"")),
        },
    };
    Ok(DnsQuery { name, kind, port })
}

/// Turns resolver answers into join addresses: A answers become "ip" or "ip:port", AAAA
/// answers "ip" or `"[ip]:port"`, SRV answers ("target:port") are kept. Duplicates are dropped,
/// order is kept.
pub fn dns_addrs(query: &DnsQuery, answers: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(answers.len());
    for answer in answers {
        let answer = answer.trim();
        if answer.is_empty() {
            continue;
        }
        let addr = match (query.kind, query.port) {
            (DnsKind::A, Some(port)) => format!("{answer}:{port}"),
            (DnsKind::Aaaa, Some(port)) => format!("[{answer}]:{port}"),
            _ => answer.to_string(),
        };
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_go_discover_entries() {
        assert_eq!(
            parse_args(r#"provider=aws tag_key=x addrs="a b""#).unwrap(),
            pairs(&[("provider", "aws"), ("tag_key", "x"), ("addrs", "a b")])
        );
        assert_eq!(
            parse_args(r#"  provider=k8s   label_selector="app = consul,tier=\"db\""  "#).unwrap(),
            pairs(&[
                ("provider", "k8s"),
                ("label_selector", "app = consul,tier=\"db\"")
            ])
        );
        assert_eq!(
            parse_args(r#""some key"="some \"value\"""#).unwrap(),
            pairs(&[("some key", "some \"value\"")])
        );
        assert_eq!(parse_args(r#"a = b"#).unwrap(), pairs(&[("a", "b")]));
        assert_eq!(
            parse_args(r#"x="tab\there\u00e9\x41\101""#).unwrap(),
            pairs(&[("x", "tab\thereéAA")])
        );
        assert_eq!(parse_args("").unwrap(), pairs(&[]));
        assert_eq!(parse_args("   ").unwrap(), pairs(&[]));
    }

    #[test]
    fn go_discover_errors() {
        assert_eq!(parse_args("a=1 a=2").unwrap_err(), "a: duplicate key");
        assert_eq!(parse_args("provider").unwrap_err(), "provider: missing '='");
        assert_eq!(
            parse_args("provider=").unwrap_err(),
            "provider: missing value"
        );
        assert_eq!(parse_args("a b").unwrap_err(), "a: missing '='");
        assert_eq!(parse_args("a==b").unwrap_err(), "a: missing value");
        assert_eq!(
            parse_args("a=b =c").unwrap_err(),
            "a: - equals in key's value, enclosing quotes needed"
        );
        assert_eq!(
            parse_args(r#"a="open"#).unwrap_err(),
            "a: unbalanced quotes"
        );
        assert_eq!(
            parse_args(r#"a="esc\"#).unwrap_err(),
            "a: unterminated escape sequence"
        );
        assert_eq!(parse_args(r#"a="\q""#).unwrap_err(), "a: invalid syntax");
    }

    #[test]
    fn static_provider() {
        let args =
            parse_args(r#"provider=static addrs="10.0.0.1 10.0.0.2:8301  host.example""#).unwrap();
        assert_eq!(
            static_addrs(&args).unwrap(),
            ["10.0.0.1", "10.0.0.2:8301", "host.example"]
        );
        assert_eq!(
            static_addrs(&pairs(&[("provider", "static")])).unwrap_err(),
            "static: addrs is required"
        );
        assert_eq!(
            static_addrs(&pairs(&[("addrs", "  ")])).unwrap_err(),
            "static: addrs is required"
        );
    }

    #[test]
    fn file_provider() {
        assert_eq!(
            file_path(&pairs(&[("provider", "file"), ("path", "/etc/j")])).unwrap(),
            "/etc/j"
        );
        assert_eq!(
            file_path(&pairs(&[("provider", "file")])).unwrap_err(),
            "file: path is required"
        );
        let content =
            "# servers\n10.0.0.1\n\n  10.0.0.2:8301   # second\r\nhost.example\n#10.0.0.9\n";
        assert_eq!(
            file_addrs(content),
            ["10.0.0.1", "10.0.0.2:8301", "host.example"]
        );
        assert!(file_addrs("").is_empty());
    }

    #[test]
    fn dns_provider() {
        let q = dns_query(&pairs(&[("provider", "dns"), ("name", "servers.example")])).unwrap();
        assert_eq!(
            q,
            DnsQuery {
                name: "servers.example".to_string(),
                kind: DnsKind::A,
                port: None
            }
        );
        let answers = [
            "10.0.0.1".to_string(),
            "10.0.0.2".to_string(),
            "10.0.0.1".to_string(),
        ];
        assert_eq!(dns_addrs(&q, &answers), ["10.0.0.1", "10.0.0.2"]);

        let q = dns_query(&pairs(&[
            ("name", "s.example"),
            ("type", "a"),
            ("port", "8301"),
        ]))
        .unwrap();
        assert_eq!(dns_addrs(&q, &answers), ["10.0.0.1:8301", "10.0.0.2:8301"]);

        let q = dns_query(&pairs(&[
            ("name", "s.example"),
            ("type", "AAAA"),
            ("port", "8301"),
        ]))
        .unwrap();
        assert_eq!(dns_addrs(&q, &["fd00::1".to_string()]), ["[fd00::1]:8301"]);

        let q = dns_query(&pairs(&[
            ("name", "_serf._tcp.example"),
            ("type", "SRV"),
            ("port", "1"),
        ]))
        .unwrap();
        assert_eq!(q.kind.as_str(), "SRV");
        assert_eq!(
            dns_addrs(&q, &["a.example:8301".to_string()]),
            ["a.example:8301"]
        );

        assert_eq!(dns_query(&pairs(&[])).unwrap_err(), "dns: name is required");
        assert!(
            dns_query(&pairs(&[("name", "x"), ("type", "MX")]))
                .unwrap_err()
                .contains("type must be")
        );
        assert!(
            dns_query(&pairs(&[("name", "x"), ("port", "0")]))
                .unwrap_err()
                .contains("invalid port")
        );
        assert!(
            dns_query(&pairs(&[("name", "x"), ("port", "70000")]))
                .unwrap_err()
                .contains("invalid port")
        );
    }
}
