//! From rules text to a small tree of keyed items, with line numbers for HCL.
//!
//! Consul decodes rules with HCL v1, which is whitespace-insensitive: `service "a" { policy =
//! "write" intentions = "read" }` on one line, commas between items and newlines anywhere are
//! all fine, and strings are never templates. hcl-rs parses HCL2, which is newline-sensitive.
//! So the HCL text first goes through a small HCL v1 lexer ([`prepare`]) that rewrites only
//! separators and escapes (a space before an item on the same line becomes a newline, a comma
//! between items becomes a newline, a newline inside an item becomes a space, `${`/`%{` in
//! strings are escaped) and remembers every byte it inserted, so that positions reported on the
//! rewritten text map back to lines and columns of the original. The lexer also rejects what
//! HCL v1 has no token for (operators, parentheses...) and nesting deeper than
//! [`MAX_NESTING`], so hcl-rs only ever sees a shallow, expression-free document.
//!
//! JSON (text starting with `{`, as HCL v1 detects it) goes through serde_json; duplicate keys
//! are kept (arrays of objects are flattened into repeated keys, as HCL v1 does).

use hcl::edit::Span;
use hcl::edit::expr::{Expression, ObjectKey};
use hcl::edit::structure::{Body, Structure};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{RulesError, RulesErrorKind};

/// Deepest `{`/`[` nesting accepted (ACL rules need three).
pub(crate) const MAX_NESTING: usize = 32;

/// A 1-based line and column in the original text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

/// One `key = value` or `key "label" { ... }` (a block becomes nested objects, one per label).
#[derive(Debug)]
pub(crate) struct Item {
    pub key: String,
    pub pos: Option<Pos>,
    pub value: Node,
    /// For an HCL block: how many labels it had. `None` for attributes and JSON.
    pub block_labels: Option<usize>,
}

/// A value.
#[derive(Debug)]
pub(crate) enum Node {
    /// A string (numbers and booleans become their text, as HCL v1 decodes them into strings).
    Str(String),
    /// An object or a block body.
    Object(Vec<Item>),
    /// Anything else, described for the error message (`a list`, `null`...).
    Other(&'static str),
}

/// A syntax error `Failed to parse ACL rules: <detail>`.
pub(crate) fn syntax_error(pos: Option<Pos>, rule: Option<String>, detail: &str) -> RulesError {
    let mut message = String::from("Failed to parse ACL rules: ");
    if let Some(pos) = pos {
        message.push_str(&format!("At {}:{}: ", pos.line, pos.column));
    }
    message.push_str(detail);
    RulesError::new(RulesErrorKind::Syntax, pos.map(|p| p.line), rule, message)
}

/// HCL v1's duplicate-attribute error, as Consul returns it (its position only for HCL).
pub(crate) fn duplicate_error(key: &str, pos: Option<Pos>, rule: Option<String>) -> RulesError {
    let mut detail = match pos {
        Some(p) => format!(
            "The argument \"{key}\" at {}:{} was already set. Each argument can only be defined once",
            p.line, p.column
        ),
        None => format!(
            "The argument \"{key}\" was already set. Each argument can only be defined once"
        ),
    };
    if let Some(rule) = &rule {
        detail.push_str(&format!(" (in {rule})"));
    }
    RulesError::new(
        RulesErrorKind::Syntax,
        pos.map(|p| p.line),
        rule,
        format!("Failed to parse ACL rules: {detail}"),
    )
}

/// True when HCL v1 would read `text` as JSON: its first non-space character is `{`.
pub(crate) fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

// ---------------------------------------------------------------------------------------------
// Line index

/// Byte offsets of line starts, to turn offsets into lines and columns in O(log n).
pub(crate) struct Lines<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Lines { src, starts }
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.src.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = match self.src.get(start..offset) {
            Some(s) => s.chars().count() + 1,
            None => offset - start + 1,
        };
        Pos { line, column }
    }
}

// ---------------------------------------------------------------------------------------------
// HCL v1 -> HCL2 preparation

/// The rewritten text and what is needed to map positions back.
pub(crate) struct Prepared {
    pub text: String,
    /// Offsets (in `text`) of every inserted byte, ascending.
    inserted: Vec<usize>,
    /// Top-level items: original start and end offsets (end unknown while unfinished) and a
    /// description (`key_prefix "foo/"`).
    tops: Vec<Top>,
}

struct Top {
    start: usize,
    end: Option<usize>,
    desc: String,
}

impl Prepared {
    /// Maps an offset in the rewritten text to one in the original.
    pub(crate) fn original(&self, offset: usize) -> usize {
        offset - self.inserted.partition_point(|&p| p < offset)
    }

    /// The top-level item containing the original offset, unless the offset is where it starts.
    fn enclosing(&self, offset: usize) -> Option<String> {
        let i = self.tops.partition_point(|t| t.start <= offset);
        let top = self.tops.get(i.checked_sub(1)?)?;
        (top.start < offset && top.end.is_none_or(|end| offset < end)).then(|| top.desc.clone())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Top level or a block body: items separated by newlines.
    Body,
    /// An object value (`= { ... }`): same items, newline or comma separated.
    Object,
    /// A list value.
    List,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Expecting an item (or the closing brace).
    Start,
    /// Inside an item's key and labels.
    Key,
    /// After `=`, expecting the value.
    AfterAssign,
    /// Inside the item's nested block, object or list.
    Nested,
    /// The item is complete; the next one needs a newline first.
    ValueDone,
}

#[derive(Clone, Copy, Debug)]
struct Ctx {
    kind: Kind,
    state: State,
    /// A block body whose `{` is not yet followed by a newline.
    fresh: bool,
    /// At top level: whether the current item already has its first label recorded.
    labelled: bool,
}

impl Ctx {
    fn new(kind: Kind, fresh: bool) -> Self {
        Ctx {
            kind,
            state: State::Start,
            fresh,
            labelled: false,
        }
    }
}

struct Preparer<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
    out: Vec<u8>,
    inserted: Vec<usize>,
    stack: Vec<Ctx>,
    tops: Vec<Top>,
    lines: &'a Lines<'a>,
}

/// A name HCL2 accepts bare: a letter or `_`, then letters, digits, `_` and `-`.
fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'+') || c >= 0x80
}

/// Rewrites HCL v1 rules into HCL2 that hcl-rs reads the same way.
pub(crate) fn prepare(src: &str, lines: &Lines<'_>) -> Result<Prepared, RulesError> {
    let mut p = Preparer {
        src,
        b: src.as_bytes(),
        i: 0,
        out: Vec::with_capacity(src.len() + src.len() / 8 + 16),
        inserted: Vec::new(),
        stack: vec![Ctx::new(Kind::Body, false)],
        tops: Vec::new(),
        lines,
    };
    p.run()?;
    let text = String::from_utf8(p.out)
        .map_err(|_| syntax_error(None, None, "rules are not valid UTF-8"))?;
    Ok(Prepared {
        text,
        inserted: p.inserted,
        tops: p.tops,
    })
}

impl Preparer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.b.get(self.i + ahead).copied()
    }

    fn err(&self, at: usize, detail: &str) -> RulesError {
        syntax_error(Some(self.lines.pos(at)), None, detail)
    }

    fn copy(&mut self, n: usize) {
        let end = (self.i + n).min(self.b.len());
        self.out.extend_from_slice(&self.b[self.i..end]);
        self.i = end;
    }

    fn insert(&mut self, c: u8) {
        self.inserted.push(self.out.len());
        self.out.push(c);
    }

    fn ctx(&mut self) -> &mut Ctx {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    fn run(&mut self) -> Result<(), RulesError> {
        while let Some(c) = self.peek(0) {
            match c {
                b' ' | b'\t' | b'\r' => self.copy(1),
                b'\n' => self.newline(),
                b'#' => self.line_comment(),
                b'/' if self.peek(1) == Some(b'/') => self.line_comment(),
                b'/' if self.peek(1) == Some(b'*') => self.block_comment()?,
                b'"' => {
                    let start = self.i;
                    let end = self.string_end()?;
                    let content = self.src.get(start + 1..end - 1).unwrap_or("");
                    if self.starts_item() && is_identifier(content) {
                        // HCL v1 allows `"key" "a" {..}` and `"acl" = ..`; HCL2 wants bare
                        // names there. The quotes become spaces.
                        self.word(start + 1, end - 1);
                        self.out.push(b' ');
                        self.i += 1;
                        self.copy(end - 2 - start);
                        self.out.push(b' ');
                        self.i += 1;
                    } else {
                        self.word(start, end);
                        self.string(end)?;
                    }
                }
                b'<' if self.peek(1) == Some(b'<') => {
                    let start = self.i;
                    let end = self.heredoc_end()?;
                    self.word(start, end);
                    self.heredoc(end);
                }
                b'{' => self.open_brace()?,
                b'}' => self.close_brace(),
                b'[' => self.open_list()?,
                b']' => self.close_list(),
                b'=' | b':' => self.assign(),
                b',' => self.comma(),
                c if is_word_byte(c) => {
                    let start = self.i;
                    let mut end = start;
                    while self.b.get(end).is_some_and(|&c| is_word_byte(c)) {
                        end += 1;
                    }
                    self.word(start, end);
                    self.copy(end - start);
                }
                other => {
                    let shown = self
                        .src
                        .get(self.i..)
                        .and_then(|s| s.chars().next())
                        .unwrap_or(other as char);
                    return Err(self.err(self.i, &format!("illegal char {shown:?}")));
                }
            }
        }
        Ok(())
    }

    /// Whether the next word starts a top-level-or-block item (not inside an object value).
    fn starts_item(&self) -> bool {
        self.stack.last().is_some_and(|c| {
            c.kind == Kind::Body && matches!(c.state, State::Start | State::ValueDone)
        })
    }

    /// Records the end of the current top-level item.
    fn end_top(&mut self, end: usize) {
        if self.stack.len() == 1
            && let Some(top) = self.tops.last_mut()
        {
            top.end = Some(end);
        }
    }

    fn newline(&mut self) {
        let ctx = self.ctx();
        ctx.fresh = false;
        let replace = match (ctx.kind, ctx.state) {
            (Kind::List, _) => false,
            (_, State::Key | State::AfterAssign) => true,
            (_, State::ValueDone) => {
                ctx.state = State::Start;
                false
            }
            _ => false,
        };
        if replace {
            self.out.push(b' ');
            self.i += 1;
        } else {
            self.copy(1);
        }
    }

    fn line_comment(&mut self) {
        let rest = &self.b[self.i..];
        let n = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
        self.copy(n);
    }

    fn block_comment(&mut self) -> Result<(), RulesError> {
        let start = self.i;
        let rest = &self.b[self.i + 2..];
        let Some(n) = rest.windows(2).position(|w| w == b"*/") else {
            return Err(self.err(start, "comment not terminated"));
        };
        let comment = &self.b[self.i..self.i + 2 + n + 2];
        // A newline inside the comment would end an item in HCL2; HCL v1 ignores it.
        let (kind, state) = {
            let ctx = self.ctx();
            (ctx.kind, ctx.state)
        };
        if kind != Kind::List && matches!(state, State::Key | State::AfterAssign) {
            self.out
                .extend(comment.iter().map(|&c| if c == b'\n' { b' ' } else { c }));
        } else {
            self.out.extend_from_slice(comment);
        }
        self.i += comment.len();
        Ok(())
    }

    /// A key, label or value token starting at `start`: updates the item state, inserting the
    /// newline HCL2 needs between items on one line.
    fn word(&mut self, start: usize, end: usize) {
        let top_level = self.stack.len() == 1;
        let (kind, state, fresh) = {
            let ctx = self.ctx();
            (ctx.kind, ctx.state, ctx.fresh)
        };
        if kind == Kind::List {
            return;
        }
        let starts_item = match state {
            State::Start => {
                if fresh {
                    self.insert(b'\n');
                }
                true
            }
            State::ValueDone => {
                self.insert(b'\n');
                true
            }
            State::Key => {
                if top_level && !self.ctx().labelled {
                    self.ctx().labelled = true;
                    if let (Some(last), Some(text)) =
                        (self.tops.last_mut(), self.src.get(start..end))
                    {
                        last.desc.push(' ');
                        last.desc.push_str(text);
                    }
                }
                false
            }
            State::AfterAssign => {
                self.ctx().state = State::ValueDone;
                self.end_top(end);
                false
            }
            State::Nested => false,
        };
        let ctx = self.ctx();
        ctx.fresh = false;
        if starts_item {
            ctx.state = State::Key;
            ctx.labelled = false;
            if top_level {
                let desc = self.src.get(start..end).unwrap_or("").to_string();
                self.tops.push(Top {
                    start,
                    end: None,
                    desc,
                });
            }
        }
    }

    fn open_brace(&mut self) -> Result<(), RulesError> {
        if self.stack.len() >= MAX_NESTING {
            return Err(self.err(self.i, "rules are nested too deeply"));
        }
        let ctx = self.ctx();
        ctx.fresh = false;
        let child = match (ctx.kind, ctx.state) {
            (Kind::List, _) => Ctx::new(Kind::Object, false),
            (_, State::Key) => {
                ctx.state = State::Nested;
                Ctx::new(Kind::Body, true)
            }
            (_, State::AfterAssign) => {
                ctx.state = State::Nested;
                Ctx::new(Kind::Object, false)
            }
            _ => Ctx::new(Kind::Object, false),
        };
        self.stack.push(child);
        self.copy(1);
        Ok(())
    }

    fn close_brace(&mut self) {
        if self.stack.len() > 1 && self.ctx().kind != Kind::List {
            if self.ctx().state == State::ValueDone {
                self.insert(b'\n');
            }
            self.stack.pop();
            let parent = self.ctx();
            parent.fresh = false;
            if parent.kind != Kind::List {
                parent.state = State::ValueDone;
            }
            self.end_top(self.i + 1);
        }
        self.copy(1);
    }

    fn open_list(&mut self) -> Result<(), RulesError> {
        if self.stack.len() >= MAX_NESTING {
            return Err(self.err(self.i, "rules are nested too deeply"));
        }
        let ctx = self.ctx();
        ctx.fresh = false;
        if ctx.kind != Kind::List && ctx.state == State::AfterAssign {
            ctx.state = State::Nested;
        }
        self.stack.push(Ctx::new(Kind::List, false));
        self.copy(1);
        Ok(())
    }

    fn close_list(&mut self) {
        if self.stack.len() > 1 && self.ctx().kind == Kind::List {
            self.stack.pop();
            let parent = self.ctx();
            if parent.kind != Kind::List {
                parent.state = State::ValueDone;
            }
            self.end_top(self.i + 1);
        }
        self.copy(1);
    }

    fn assign(&mut self) {
        let ctx = self.ctx();
        ctx.fresh = false;
        if ctx.kind != Kind::List && ctx.state == State::Key {
            ctx.state = State::AfterAssign;
        }
        self.copy(1);
    }

    fn comma(&mut self) {
        let ctx = self.ctx();
        if ctx.kind != Kind::List && ctx.state == State::ValueDone {
            ctx.state = State::Start;
            self.out.push(b'\n');
            self.i += 1;
        } else {
            self.copy(1);
        }
    }

    /// The offset just past the closing quote of the string starting at `self.i` (HCL v1:
    /// quotes inside `${...}` do not end the string).
    fn string_end(&self) -> Result<usize, RulesError> {
        let start = self.i;
        let mut j = start + 1;
        let mut braces = 0usize;
        loop {
            let Some(&c) = self.b.get(j) else {
                return Err(self.err(start, "literal not terminated"));
            };
            match c {
                b'\n' if braces == 0 => return Err(self.err(start, "literal not terminated")),
                b'"' if braces == 0 => return Ok(j + 1),
                b'\\' => j += 1,
                b'$' if braces == 0 && self.b.get(j + 1) == Some(&b'{') => {
                    braces = 1;
                    j += 1;
                }
                b'{' if braces > 0 => braces += 1,
                b'}' if braces > 0 => braces -= 1,
                _ => {}
            }
            j += 1;
        }
    }

    /// Copies the string ending at `end`, escaping what HCL2 would read as a template.
    fn string(&mut self, end: usize) -> Result<(), RulesError> {
        self.copy(1); // opening quote
        let mut braces = 0usize;
        while self.i < end - 1 {
            let c = self.b[self.i];
            let next = self.b.get(self.i + 1).copied();
            match c {
                b'\\' => self.copy(2),
                b'$' | b'%' if next == Some(b'{') => {
                    // `${` and `%{` are literal in HCL v1; HCL2 reads `$${`/`%%{` as them.
                    self.insert(c);
                    if c == b'$' || braces > 0 {
                        braces += 1;
                    }
                    self.copy(2);
                }
                b'{' if braces > 0 => {
                    braces += 1;
                    self.copy(1);
                }
                b'}' if braces > 0 => {
                    braces -= 1;
                    self.copy(1);
                }
                b'"' => {
                    self.insert(b'\\');
                    self.copy(1);
                }
                b'\n' => {
                    self.insert(b'\\');
                    self.out.push(b'n');
                    self.i += 1;
                }
                _ => self.copy(1),
            }
        }
        self.copy(1); // closing quote
        Ok(())
    }

    /// Copies the heredoc ending at `end`, escaping `${` and `%{` (literal in HCL v1).
    fn heredoc(&mut self, end: usize) {
        while self.i < end {
            let c = self.b[self.i];
            if matches!(c, b'$' | b'%') && self.b.get(self.i + 1) == Some(&b'{') {
                self.insert(c);
                self.copy(2);
            } else {
                self.copy(1);
            }
        }
    }

    /// The offset just past the closing marker of the heredoc starting at `self.i`.
    fn heredoc_end(&self) -> Result<usize, RulesError> {
        let start = self.i;
        let mut j = start + 2;
        if self.b.get(j) == Some(&b'-') {
            j += 1;
        }
        let anchor_start = j;
        while self
            .b
            .get(j)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
        {
            j += 1;
        }
        let anchor = &self.b[anchor_start..j];
        let line_end = self.b[j..].iter().position(|&c| c == b'\n').map(|n| j + n);
        let (true, Some(mut line_start)) = (!anchor.is_empty(), line_end.map(|e| e + 1)) else {
            return Err(self.err(start, "invalid heredoc"));
        };
        if self.b[j..line_end.unwrap_or(j)]
            .iter()
            .any(|c| !c.is_ascii_whitespace())
        {
            return Err(self.err(start, "invalid heredoc"));
        }
        while line_start <= self.b.len() {
            let end = self.b[line_start..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(self.b.len(), |n| line_start + n);
            if self.b[line_start..end].trim_ascii() == anchor {
                return Ok(end);
            }
            if end >= self.b.len() {
                break;
            }
            line_start = end + 1;
        }
        Err(self.err(start, "heredoc not terminated"))
    }
}

// ---------------------------------------------------------------------------------------------
// HCL tree

/// Parses HCL rules into items.
pub(crate) fn parse_hcl(src: &str) -> Result<Vec<Item>, RulesError> {
    let lines = Lines::new(src);
    let prepared = prepare(src, &lines)?;
    let body = match hcl::edit::parser::parse_body(&prepared.text) {
        Ok(body) => body,
        Err(e) => return Err(hcl_error(src, &lines, &prepared, &e)),
    };
    let conv = Converter {
        lines: &lines,
        prepared: &prepared,
    };
    conv.body(&body)
}

fn hcl_error(
    src: &str,
    lines: &Lines<'_>,
    prepared: &Prepared,
    e: &hcl::edit::parser::Error,
) -> RulesError {
    let offset = prepared.original(e.location().offset());
    let pos = lines.pos(offset);
    let rule = prepared.enclosing(offset);
    if e.message().contains("redefined attribute") {
        let key: String = src
            .get(offset..)
            .unwrap_or("")
            .chars()
            .take_while(|&c| c.is_alphanumeric() || c == '_' || c == '-')
            .collect();
        return duplicate_error(&key, Some(pos), rule);
    }
    let detail = match &rule {
        Some(rule) => format!("{} (in {rule})", e.message()),
        None => e.message().to_string(),
    };
    syntax_error(Some(pos), rule, &detail)
}

struct Converter<'a> {
    lines: &'a Lines<'a>,
    prepared: &'a Prepared,
}

impl Converter<'_> {
    fn pos(&self, span: Option<std::ops::Range<usize>>) -> Option<Pos> {
        span.map(|s| self.lines.pos(self.prepared.original(s.start)))
    }

    fn body(&self, body: &Body) -> Result<Vec<Item>, RulesError> {
        let mut items = Vec::with_capacity(body.len());
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => items.push(Item {
                    key: attr.key.as_str().to_string(),
                    pos: self.pos(attr.key.span()),
                    value: self.expr(&attr.value)?,
                    block_labels: None,
                }),
                Structure::Block(block) => {
                    let mut value = Node::Object(self.body(&block.body)?);
                    for label in block.labels.iter().rev() {
                        value = Node::Object(vec![Item {
                            key: label.as_str().to_string(),
                            pos: self.pos(label.span()),
                            value,
                            block_labels: None,
                        }]);
                    }
                    items.push(Item {
                        key: block.ident.as_str().to_string(),
                        pos: self.pos(block.ident.span()),
                        value,
                        block_labels: Some(block.labels.len()),
                    });
                }
            }
        }
        Ok(items)
    }

    fn expr(&self, expr: &Expression) -> Result<Node, RulesError> {
        Ok(match expr {
            Expression::String(s) => Node::Str(s.as_str().to_string()),
            Expression::Number(n) => Node::Str(n.to_string()),
            Expression::Bool(b) => Node::Str(b.to_string()),
            Expression::Null(_) => Node::Other("null"),
            Expression::Array(_) => Node::Other("a list"),
            Expression::Object(object) => {
                let mut items = Vec::with_capacity(object.len());
                for (key, value) in object.iter() {
                    let name = match key {
                        ObjectKey::Ident(ident) => ident.as_str().to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                        ObjectKey::Expression(_) => {
                            return Err(syntax_error(
                                self.pos(key.span()),
                                None,
                                "object keys must be names or strings",
                            ));
                        }
                    };
                    items.push(Item {
                        key: name,
                        pos: self.pos(key.span()),
                        value: self.expr(value.expr())?,
                        block_labels: None,
                    });
                }
                Node::Object(items)
            }
            Expression::HeredocTemplate(heredoc) => {
                let mut text = String::new();
                for element in heredoc.template.iter() {
                    match element.as_literal() {
                        Some(literal) => text.push_str(literal.as_str()),
                        None => return Ok(Node::Other("a template")),
                    }
                }
                Node::Str(text)
            }
            Expression::StringTemplate(_) => Node::Other("a template"),
            Expression::Variable(_) => Node::Other("a bare word"),
            _ => Node::Other("an expression"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// A JSON value that keeps duplicate keys and their order.
enum Json {
    Str(String),
    Null,
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

/// Parses JSON rules into items (without positions).
pub(crate) fn parse_json(src: &str) -> Result<Vec<Item>, RulesError> {
    let value: Json = serde_json::from_str(src).map_err(|e| {
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let detail = text.strip_suffix(&suffix).unwrap_or(&text);
        let pos = (e.line() > 0).then_some(Pos {
            line: e.line(),
            column: e.column(),
        });
        syntax_error(pos, None, detail)
    })?;
    match value {
        Json::Object(entries) => Ok(json_items(entries)),
        _ => Err(syntax_error(None, None, "JSON rules must be an object")),
    }
}

fn json_items(entries: Vec<(String, Json)>) -> Vec<Item> {
    let mut items = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match value {
            Json::Array(elements)
                if !elements.is_empty()
                    && elements.iter().all(|e| matches!(e, Json::Object(_))) =>
            {
                for element in elements {
                    if let Json::Object(entries) = element {
                        items.push(json_item(key.clone(), Node::Object(json_items(entries))));
                    }
                }
            }
            other => {
                let node = match other {
                    Json::Str(s) => Node::Str(s),
                    Json::Null => Node::Other("null"),
                    Json::Array(_) => Node::Other("a list"),
                    Json::Object(entries) => Node::Object(json_items(entries)),
                };
                items.push(json_item(key, node));
            }
        }
    }
    items
}

fn json_item(key: String, value: Node) -> Item {
    Item {
        key,
        pos: None,
        value,
        block_labels: None,
    }
}
