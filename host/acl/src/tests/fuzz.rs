//! Random inputs never panic, and the compiled lookups agree with a naive model of Consul's
//! radix-tree semantics.

use crate::{Decision, Level, PolicyAuthorizer, PolicyRules, Rule, parse_rules};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const FRAGMENTS: &[&str] = &[
    "key",
    "key_prefix",
    "service",
    "service_prefix",
    "node",
    "operator",
    "acl",
    "mesh",
    "policy",
    "intentions",
    "\"read\"",
    "\"write\"",
    "\"list\"",
    "\"deny\"",
    "\"\"",
    "\"a/b\"",
    "\"",
    "{",
    "}",
    "[",
    "]",
    "=",
    ",",
    ":",
    "\n",
    " ",
    "\t",
    "\r",
    "#",
    "//",
    "/*",
    "*/",
    "<<EOF\n",
    "<<-EOF\n",
    "EOF",
    "\nEOF\n",
    "${",
    "%{",
    "$",
    "%",
    "\\",
    "\\\"",
    "é",
    "日本",
    "0",
    "1.5",
    "-",
    "true",
    "null",
    "(",
    ")",
    "!",
    "*",
    "'",
    ";",
    "\u{0}",
    "\u{7f}",
    "\u{feff}",
];

const VALID: &[&str] = &[
    r#"key_prefix "foo/" { policy = "read" } operator = "read""#,
    "service \"web\" {\n  policy = \"write\"\n  intentions = \"read\"\n}\nnode_prefix \"\" {\n  policy = \"read\"\n}",
    r#"{"key_prefix":{"foo/":{"policy":"read"}},"operator":"read"}"#,
    r#"{"service": {"web": {"policy": "write", "intentions": "deny"}}, "acl": "read"}"#,
    "key = { \"a\" = { policy = \"list\" } }\nacl = <<EOF\nread\nEOF\n",
];

#[test]
fn random_inputs_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for round in 0..20_000 {
        let text = if round % 2 == 0 {
            // Random fragments, sometimes starting as JSON.
            let mut s = String::new();
            if rng.below(4) == 0 {
                s.push('{');
            }
            for _ in 0..rng.below(40) {
                s.push_str(rng.pick(FRAGMENTS));
            }
            s
        } else {
            // A valid policy with a few random edits.
            let mut s: Vec<char> = rng.pick(VALID).chars().collect();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(s.len() + 1);
                match rng.below(3) {
                    0 if at < s.len() => {
                        s.remove(at);
                    }
                    1 if at < s.len() => {
                        let end = (at + rng.below(8)).min(s.len());
                        s.drain(at..end);
                    }
                    _ => {
                        for (i, c) in rng.pick(FRAGMENTS).chars().enumerate() {
                            s.insert(at + i, c);
                        }
                    }
                }
            }
            s.into_iter().collect()
        };
        if let Ok(rules) = parse_rules(&text) {
            parsed += 1;
            // Whatever parses also compiles and answers.
            let a = PolicyAuthorizer::new([&rules]);
            let _ = (
                a.key_read("foo/x"),
                a.key_write_prefix("foo/"),
                a.service_read_all(),
            );
        }
    }
    assert!(parsed > 100, "only {parsed} inputs parsed");
}

/// Consul's semantics computed the slow way, over merged rules.
struct Model<'a> {
    exact: &'a [Rule],
    prefix: &'a [Rule],
}

impl Model<'_> {
    fn lookup(&self, name: &str) -> Option<Level> {
        if let Some(r) = self.exact.iter().find(|r| r.name == name) {
            return Some(r.level);
        }
        self.covering(name)
    }

    fn covering(&self, name: &str) -> Option<Level> {
        self.prefix
            .iter()
            .filter(|r| name.starts_with(r.name.as_str()))
            .max_by_key(|r| r.name.len())
            .map(|r| r.level)
    }

    fn write_prefix(&self, prefix: &str) -> Decision {
        let base = match self.covering(prefix) {
            Some(Level::Write) => Decision::Allow,
            Some(_) => return Decision::Deny,
            None => Decision::Default,
        };
        let below = self
            .exact
            .iter()
            .chain(self.prefix)
            .any(|r| r.name.starts_with(prefix) && r.level != Level::Write);
        if below { Decision::Deny } else { base }
    }
}

fn enforce(level: Option<Level>, required: Level) -> Decision {
    match level {
        None => Decision::Default,
        Some(Level::Write) => Decision::Allow,
        Some(Level::List) if required != Level::Write => Decision::Allow,
        Some(Level::Read) if required == Level::Read => Decision::Allow,
        Some(_) => Decision::Deny,
    }
}

#[test]
fn lookups_agree_with_a_naive_model() {
    let alphabet = ["", "a", "b", "ab", "a/", "a/b", "aa", "abc", "b/", "é"];
    let levels = [Level::Read, Level::List, Level::Write, Level::Deny];
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let mut policies = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let mut p = PolicyRules::default();
            for _ in 0..rng.below(6) {
                let name = format!("{}{}", rng.pick(&alphabet), rng.pick(&alphabet));
                let rule = Rule {
                    name,
                    level: rng.pick(&levels),
                };
                if rng.below(2) == 0 {
                    p.keys.push(rule);
                } else {
                    p.key_prefixes.push(rule);
                }
            }
            policies.push(p);
        }
        let merged = PolicyRules::merge(&policies);
        let model = Model {
            exact: &merged.keys,
            prefix: &merged.key_prefixes,
        };
        let a = PolicyAuthorizer::new(&policies);
        for _ in 0..20 {
            let name = format!(
                "{}{}{}",
                rng.pick(&alphabet),
                rng.pick(&alphabet),
                rng.pick(&alphabet)
            );
            let expected = model.lookup(&name);
            assert_eq!(
                a.key_read(&name),
                enforce(expected, Level::Read),
                "{name} in {merged:?}"
            );
            assert_eq!(
                a.key_list(&name),
                enforce(expected, Level::List),
                "{name} in {merged:?}"
            );
            assert_eq!(
                a.key_write(&name),
                enforce(expected, Level::Write),
                "{name} in {merged:?}"
            );
            assert_eq!(
                a.key_write_prefix(&name),
                model.write_prefix(&name),
                "{name} in {merged:?}"
            );
        }
        // `*_all` / `*_any` against their definitions.
        let all_rules: Vec<Level> = merged
            .keys
            .iter()
            .chain(&merged.key_prefixes)
            .map(|r| r.level)
            .collect();
        let catch_all = merged.key_prefixes.iter().any(|r| r.name.is_empty());
        for required in [Level::Read, Level::List, Level::Write] {
            let any = if all_rules
                .iter()
                .any(|l| enforce(Some(*l), required) == Decision::Allow)
            {
                Decision::Allow
            } else if catch_all {
                Decision::Deny
            } else {
                Decision::Default
            };
            let all = if all_rules
                .iter()
                .any(|l| enforce(Some(*l), required) == Decision::Deny)
            {
                Decision::Deny
            } else if catch_all {
                Decision::Allow
            } else {
                Decision::Default
            };
            assert_eq!(a.keys_any_allowed(required), any);
            assert_eq!(a.keys_all_allowed(required), all);
        }
    }
}
