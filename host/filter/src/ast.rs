//! The syntax tree of a filter expression, with literal values coerced once at parse time.

use regex::Regex;

use crate::gostr::{self, NumError};

/// A boolean expression.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    /// All operands hold (`a and b and c`), evaluated left to right.
    And(Vec<Expr>),
    /// Any operand holds (`a or b or c`), evaluated left to right.
    Or(Vec<Expr>),
    /// The operand does not hold.
    Not(Box<Expr>),
    /// A selector compared with a value.
    Match(Box<MatchExpr>),
    /// `any`/`all` over a list or a map.
    Collection(Box<CollectionExpr>),
}

/// How a selector was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SelectorKind {
    /// `Service.Meta["key"]`: shown joined with `.`.
    Dotted,
    /// `"/Service/Meta/key"` (a JSON pointer): shown joined with `/`.
    Pointer,
}

/// A path into the item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selector {
    pub kind: SelectorKind,
    pub path: Vec<String>,
}

impl Selector {
    /// go-bexpr's `Selector.String()`: the path joined with `.` or `/` (no leading slash).
    pub fn display(&self) -> String {
        match self.kind {
            SelectorKind::Dotted => self.path.join("."),
            SelectorKind::Pointer => self.path.join("/"),
        }
    }
}

/// A literal value with its coercions computed once (go-bexpr coerces the literal to the
/// field's type at each evaluation; the results are the same).
#[derive(Clone, Debug)]
pub(crate) struct Literal {
    /// The text as go-bexpr keeps it (`MatchValue.Raw`).
    pub raw: String,
    pub as_int: Result<i64, NumError>,
    pub as_uint: Result<u64, NumError>,
    pub as_float: Result<f64, NumError>,
    pub as_bool: Result<bool, NumError>,
}

impl Literal {
    pub fn new(raw: String) -> Self {
        Literal {
            as_int: gostr::parse_int(&raw),
            as_uint: gostr::parse_uint(&raw),
            as_float: gostr::parse_float(&raw),
            as_bool: gostr::parse_bool(&raw),
            raw,
        }
    }
}

/// What a match expression tests, before an optional negation.
#[derive(Clone, Debug)]
pub(crate) enum Test {
    /// `==` (negated: `!=`).
    Equal(Literal),
    /// `value in selector` / `selector contains value` (negated: `not in`, `not contains`).
    In(Literal),
    /// `is empty` (negated: `is not empty`).
    IsEmpty,
    /// `matches` (negated: `not matches`). A pattern that does not compile is reported at
    /// evaluation, as go-bexpr compiles it lazily.
    Matches {
        pattern: String,
        regex: Result<Regex, String>,
    },
}

impl Test {
    /// Compile the pattern of a `matches` test.
    pub fn matches(pattern: String) -> Self {
        let regex = Regex::new(&pattern).map_err(|e| one_line(&e.to_string()));
        Test::Matches { pattern, regex }
    }

    /// go-bexpr's `NotPresentDisposition` before negation: the result when the selected key
    /// does not exist (nothing equals, contains or matches a missing key; it is empty).
    pub fn when_absent(&self) -> bool {
        matches!(self, Test::IsEmpty)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `selector op value`.
#[derive(Clone, Debug)]
pub(crate) struct MatchExpr {
    pub selector: Selector,
    pub test: Test,
    /// `!=`, `not in`, `not contains`, `is not empty`, `not matches`.
    pub negate: bool,
}

/// `any` or `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CollectionOp {
    Any,
    All,
}

/// The names bound by `as ...` in a collection expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Binding {
    /// `as x`: the element of a list, the key of a map.
    Default(String),
    /// `as i, _`: the index of a list, the key of a map.
    Index(String),
    /// `as _, v`: the element of a list, the value of a map.
    Value(String),
    /// `as i, v`: both.
    IndexAndValue(String, String),
}

impl Binding {
    /// The names this binding introduces.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Binding::Default(n) | Binding::Index(n) | Binding::Value(n) => vec![n.as_str()],
            Binding::IndexAndValue(i, v) => vec![i.as_str(), v.as_str()],
        }
    }
}

/// `any Selector as binding { inner }` / `all ...`.
#[derive(Clone, Debug)]
pub(crate) struct CollectionExpr {
    pub op: CollectionOp,
    pub selector: Selector,
    pub binding: Binding,
    pub inner: Expr,
}

/// The selectors rooted at the item (not at a collection's bound name), in order, once each.
pub(crate) fn root_selectors(expr: &Expr) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut bound = Vec::new();
    collect(expr, &mut bound, &mut out);
    out
}

fn collect<'a>(expr: &'a Expr, bound: &mut Vec<&'a str>, out: &mut Vec<Vec<String>>) {
    match expr {
        Expr::And(items) | Expr::Or(items) => {
            for item in items {
                collect(item, bound, out);
            }
        }
        Expr::Not(inner) => collect(inner, bound, out),
        Expr::Match(m) => push_rooted(&m.selector, bound, out),
        Expr::Collection(c) => {
            push_rooted(&c.selector, bound, out);
            let before = bound.len();
            bound.extend(c.binding.names());
            collect(&c.inner, bound, out);
            bound.truncate(before);
        }
    }
}

fn push_rooted(sel: &Selector, bound: &[&str], out: &mut Vec<Vec<String>>) {
    let rooted = sel
        .path
        .first()
        .is_none_or(|first| !bound.contains(&first.as_str()));
    if rooted && !out.contains(&sel.path) {
        out.push(sel.path.clone());
    }
}
