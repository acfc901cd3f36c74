//! go-bexpr's PEG grammar (`grammar/grammar.peg`, as of v0.1.14) written with winnow.
//!
//! The rules keep go-bexpr's alternatives and their order, so the same texts are accepted and
//! the same trees built. Errors are reported the way pigeon (go-bexpr's parser generator)
//! reports them: every terminal that fails records what it wanted at its offset, the farthest
//! offset wins ("no match found, expected: ..."), and the grammar's own checks (unterminated
//! string, invalid number, ...) add errors that take precedence.
//!
//! Three changes keep parsing linear without changing results: `a and b and ...` and
//! `a or b or ...` are loops instead of right recursion, `not not ...` is a loop, and the
//! result of `OrExpression` is remembered per offset (pigeon re-parses it on backtracking, which
//! is exponential in the nesting of parentheses). Nesting is limited to [`MAX_DEPTH`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use winnow::combinator::alt;
use winnow::error::EmptyError;
use winnow::prelude::*;
use winnow::stream::{Stateful, Stream};
use winnow::token::{any, literal, one_of};

use crate::ast::{
    Binding, CollectionExpr, CollectionOp, Expr, Literal, MatchExpr, Selector, SelectorKind, Test,
};
use crate::error::SyntaxError;
use crate::gostr::{quote, unquote_double, unquote_raw};

/// How deeply parentheses and `any`/`all` bodies may nest.
pub const MAX_DEPTH: usize = 100;

/// Failure tracking shared by all rules of one parse.
#[derive(Debug)]
struct Tracker {
    /// Length of the whole expression, to turn the remaining input into an offset.
    len: usize,
    /// Inside a `!` predicate: record successes instead of failures (pigeon's rule).
    invert: Cell<bool>,
    /// The farthest offset at which something was recorded.
    max_pos: Cell<usize>,
    /// What was wanted at `max_pos`.
    expected: RefCell<Vec<String>>,
    /// The grammar's own errors: offset, rule, message.
    errors: RefCell<Vec<(usize, &'static str, String)>>,
    /// `OrExpression` results by start offset: end offset and tree.
    memo: RefCell<HashMap<usize, Option<(usize, Expr)>>>,
    /// Current nesting of `OrExpression`.
    depth: Cell<usize>,
}

impl Tracker {
    fn record(&self, at: usize, matched: bool, want: impl FnOnce() -> String) {
        let invert = self.invert.get();
        if matched != invert {
            return;
        }
        let max = self.max_pos.get();
        if at < max {
            return;
        }
        let mut expected = self.expected.borrow_mut();
        if at > max {
            self.max_pos.set(at);
            expected.clear();
        }
        let want = want();
        expected.push(if invert { format!("!{want}") } else { want });
    }

    fn error(&self, at: usize, rule: &'static str, message: impl Into<String>) {
        self.errors.borrow_mut().push((at, rule, message.into()));
    }
}

type In<'i> = Stateful<&'i str, &'i Tracker>;
type PResult<T> = Result<T, EmptyError>;

/// Parse a whole expression.
pub(crate) fn parse_expression(text: &str) -> Result<Expr, Vec<SyntaxError>> {
    let tracker = Tracker {
        len: text.len(),
        invert: Cell::new(false),
        max_pos: Cell::new(0),
        expected: RefCell::new(Vec::new()),
        errors: RefCell::new(Vec::new()),
        memo: RefCell::new(HashMap::new()),
        depth: Cell::new(0),
    };
    let mut input = In {
        input: text,
        state: &tracker,
    };
    let result = input_rule(&mut input);

    let mut errors: Vec<SyntaxError> = Vec::new();
    for (at, rule, message) in tracker.errors.take() {
        let error = syntax_error(text, at, Some(rule), message);
        if !errors.iter().any(|e| e.to_string() == error.to_string()) {
            errors.push(error);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match result {
        Ok(expr) => Ok(expr),
        Err(_) => {
            let mut wanted = tracker.expected.take();
            wanted.sort();
            wanted.dedup();
            let eof = wanted.iter().any(|w| w == "!.");
            wanted.retain(|w| w != "!.");
            if eof {
                wanted.push("EOF".to_string());
            }
            let message = format!("no match found, expected: {}", list_join(&wanted));
            Err(vec![syntax_error(
                text,
                tracker.max_pos.get(),
                None,
                message,
            )])
        }
    }
}

/// `a, b, c or d`, as pigeon's `listJoin`.
fn list_join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [head @ .., last] => format!("{} or {}", head.join(", "), last),
    }
}

/// Line and column as pigeon counts them: columns in characters from 1, and a position on a
/// newline already belongs to the next line, at column 0.
fn syntax_error(
    text: &str,
    offset: usize,
    rule: Option<&'static str>,
    message: String,
) -> SyntaxError {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let mut line = 1 + before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let mut column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    if text
        .get(offset..)
        .is_some_and(|rest| rest.starts_with('\n'))
    {
        line += 1;
        column = 0;
    }
    SyntaxError {
        line,
        column,
        offset,
        rule,
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Terminals: each records what it wanted.

fn pos(i: &In<'_>) -> usize {
    i.state.len - i.input.len()
}

/// The text consumed since `before` (a copy of the input taken earlier).
fn taken<'i>(before: &'i str, i: &In<'i>) -> &'i str {
    &before[..before.len() - i.input.len()]
}

fn lit<'i>(i: &mut In<'i>, word: &'static str) -> PResult<&'i str> {
    let at = pos(i);
    let start = i.checkpoint();
    let result: PResult<&'i str> = literal(word).parse_next(i);
    if result.is_err() {
        i.reset(&start);
    }
    i.state.record(at, result.is_ok(), || quote(word));
    result
}

fn class(i: &mut In<'_>, label: &'static str, pred: fn(char) -> bool) -> PResult<char> {
    let at = pos(i);
    let start = i.checkpoint();
    let result: PResult<char> = one_of(pred).parse_next(i);
    if result.is_err() {
        i.reset(&start);
    }
    i.state.record(at, result.is_ok(), || label.to_string());
    result
}

/// `.`
fn any_char(i: &mut In<'_>) -> PResult<char> {
    let at = pos(i);
    let start = i.checkpoint();
    let result: PResult<char> = any.parse_next(i);
    if result.is_err() {
        i.reset(&start);
    }
    i.state.record(at, result.is_ok(), || ".".to_string());
    result
}

/// `!p`: succeeds, consuming nothing, where `p` fails.
fn not_ahead<'i, O>(i: &mut In<'i>, p: impl FnOnce(&mut In<'i>) -> PResult<O>) -> PResult<()> {
    let start = i.checkpoint();
    let invert = &i.state.invert;
    invert.set(!invert.get());
    let result = p(i);
    let invert = &i.state.invert;
    invert.set(!invert.get());
    i.reset(&start);
    match result {
        Ok(_) => Err(EmptyError),
        Err(_) => Ok(()),
    }
}

/// `&p`: succeeds, consuming nothing, where `p` succeeds.
fn ahead<'i, O>(i: &mut In<'i>, p: impl FnOnce(&mut In<'i>) -> PResult<O>) -> PResult<()> {
    let start = i.checkpoint();
    let result = p(i);
    i.reset(&start);
    result.map(|_| ())
}

/// Run `p`; on failure rewind to where it started.
fn attempt<'i, T>(i: &mut In<'i>, p: impl FnOnce(&mut In<'i>) -> PResult<T>) -> PResult<T> {
    let start = i.checkpoint();
    let result = p(i);
    if result.is_err() {
        i.reset(&start);
    }
    result
}

fn fail<T>() -> PResult<T> {
    Err(EmptyError)
}

const WS: &str = r"[ \t\r\n]";

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `_ <- [ \t\r\n]+`
fn ws(i: &mut In<'_>) -> PResult<()> {
    class(i, WS, is_ws)?;
    while class(i, WS, is_ws).is_ok() {}
    Ok(())
}

/// `_?`
fn ws_opt(i: &mut In<'_>) {
    let _ = ws(i);
}

/// `EOF <- !.`
fn eof(i: &mut In<'_>) -> PResult<()> {
    not_ahead(i, any_char)
}

// ---------------------------------------------------------------------------------------------
// Expressions.

/// `Input <- _? "(" _? OrExpression _? ")" _? EOF / _? OrExpression _? EOF`
fn input_rule<'i>(i: &mut In<'i>) -> PResult<Expr> {
    alt((
        |i: &mut In<'i>| {
            ws_opt(i);
            lit(i, "(")?;
            ws_opt(i);
            let expr = or_expr(i)?;
            ws_opt(i);
            lit(i, ")")?;
            ws_opt(i);
            eof(i)?;
            Ok(expr)
        },
        |i: &mut In<'i>| {
            ws_opt(i);
            let expr = or_expr(i)?;
            ws_opt(i);
            eof(i)?;
            Ok(expr)
        },
    ))
    .parse_next(i)
}

/// `OrExpression`, remembered per offset and limited in depth.
fn or_expr(i: &mut In<'_>) -> PResult<Expr> {
    let start = pos(i);
    let remembered = i.state.memo.borrow().get(&start).cloned();
    if let Some(outcome) = remembered {
        return match outcome {
            Some((end, expr)) => {
                let _ = i.next_slice(end - start);
                Ok(expr)
            }
            None => fail(),
        };
    }
    let depth = i.state.depth.get();
    if depth >= MAX_DEPTH {
        i.state.error(
            start,
            "grouping",
            format!("Nesting deeper than {MAX_DEPTH} levels"),
        );
        return fail();
    }
    i.state.depth.set(depth + 1);
    let result = attempt(i, or_chain);
    i.state.depth.set(depth);
    let outcome = result.as_ref().ok().map(|expr| (pos(i), expr.clone()));
    i.state.memo.borrow_mut().insert(start, outcome);
    result
}

/// `OrExpression <- AndExpression _ "or" _ OrExpression / AndExpression / CollectionExpression`
///
/// As a loop: a collection expression can only come first or last.
fn or_chain(i: &mut In<'_>) -> PResult<Expr> {
    let first = match attempt(i, and_expr) {
        Ok(expr) => expr,
        Err(_) => return collection_expr(i),
    };
    let mut items = vec![first];
    loop {
        let next = attempt(i, |i| {
            ws(i)?;
            lit(i, "or")?;
            ws(i)?;
            match attempt(i, and_expr) {
                Ok(expr) => Ok((expr, false)),
                Err(_) => collection_expr(i).map(|expr| (expr, true)),
            }
        });
        match next {
            Ok((expr, last)) => {
                items.push(expr);
                if last {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Ok(flatten(items, Expr::Or))
}

/// `AndExpression <- NotExpression _ "and" _ AndExpression / NotExpression`, as a loop.
fn and_expr(i: &mut In<'_>) -> PResult<Expr> {
    let first = not_expr(i)?;
    let mut items = vec![first];
    while let Ok(expr) = attempt(i, |i| {
        ws(i)?;
        lit(i, "and")?;
        ws(i)?;
        not_expr(i)
    }) {
        items.push(expr);
    }
    Ok(flatten(items, Expr::And))
}

fn flatten(mut items: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    join(items)
}

/// `NotExpression <- "not" _ NotExpression / ParenthesizedExpression`, as a loop: after `n`
/// leading `not`s, try the grouping after the last one, then after the one before, ... (the
/// order the recursive rule backtracks in). `not not x` is `x`, as in go-bexpr.
fn not_expr(i: &mut In<'_>) -> PResult<Expr> {
    let mut starts = vec![i.checkpoint()];
    while attempt(i, |i| {
        lit(i, "not")?;
        ws(i)
    })
    .is_ok()
    {
        starts.push(i.checkpoint());
    }
    while let Some(start) = starts.pop() {
        i.reset(&start);
        if let Ok(expr) = attempt(i, paren_expr) {
            let nots = starts.len();
            return Ok(if nots % 2 == 1 {
                Expr::Not(Box::new(expr))
            } else {
                expr
            });
        }
    }
    fail()
}

/// `ParenthesizedExpression "grouping" <- "(" _? OrExpression _? ")" / MatchExpression
///   / "(" _? OrExpression _? !")" &{ Unmatched parentheses }`
fn paren_expr<'i>(i: &mut In<'i>) -> PResult<Expr> {
    alt((
        |i: &mut In<'i>| {
            lit(i, "(")?;
            ws_opt(i);
            let expr = or_expr(i)?;
            ws_opt(i);
            lit(i, ")")?;
            Ok(expr)
        },
        match_expr,
        |i: &mut In<'i>| {
            lit(i, "(")?;
            ws_opt(i);
            or_expr(i)?;
            ws_opt(i);
            not_ahead(i, |i| lit(i, ")"))?;
            i.state.error(pos(i), "grouping", "Unmatched parentheses");
            fail()
        },
    ))
    .parse_next(i)
}

/// `CollectionExpression <- (CollectionOpAny / CollectionOpAll) Selector _ "as" _
///   CollectionIdentifiers _? "{" _? OrExpression _? "}"`
fn collection_expr<'i>(i: &mut In<'i>) -> PResult<Expr> {
    let op = alt((
        |i: &mut In<'i>| {
            lit(i, "any")?;
            ws(i)?;
            Ok(CollectionOp::Any)
        },
        |i: &mut In<'i>| {
            lit(i, "all")?;
            ws(i)?;
            Ok(CollectionOp::All)
        },
    ))
    .parse_next(i)?;
    let selector = selector(i)?;
    ws(i)?;
    lit(i, "as")?;
    ws(i)?;
    let binding = collection_identifiers(i)?;
    ws_opt(i);
    lit(i, "{")?;
    ws_opt(i);
    let inner = or_expr(i)?;
    ws_opt(i);
    lit(i, "}")?;
    Ok(Expr::Collection(Box::new(CollectionExpr {
        op,
        selector,
        binding,
        inner,
    })))
}

/// `CollectionIdentifiers <- Identifier _? "," _? Identifier / Identifier _? "," _? "_"
///   / "_" _? "," _? Identifier / Identifier`
fn collection_identifiers<'i>(i: &mut In<'i>) -> PResult<Binding> {
    alt((
        |i: &mut In<'i>| {
            let index = identifier(i)?;
            ws_opt(i);
            lit(i, ",")?;
            ws_opt(i);
            let value = identifier(i)?;
            Ok(Binding::IndexAndValue(index, value))
        },
        |i: &mut In<'i>| {
            let index = identifier(i)?;
            ws_opt(i);
            lit(i, ",")?;
            ws_opt(i);
            lit(i, "_")?;
            Ok(Binding::Index(index))
        },
        |i: &mut In<'i>| {
            lit(i, "_")?;
            ws_opt(i);
            lit(i, ",")?;
            ws_opt(i);
            let value = identifier(i)?;
            Ok(Binding::Value(value))
        },
        |i: &mut In<'i>| identifier(i).map(Binding::Default),
    ))
    .parse_next(i)
}

// ---------------------------------------------------------------------------------------------
// Match expressions.

/// `MatchExpression "match" <- MatchSelectorOpValue / MatchSelectorOp / MatchValueOpSelector`
fn match_expr(i: &mut In<'_>) -> PResult<Expr> {
    let matched = alt((selector_op_value, selector_op, value_op_selector)).parse_next(i)?;
    Ok(Expr::Match(Box::new(matched)))
}

/// The operators that take a value, and whether they are negated.
#[derive(Clone, Copy)]
enum ValueOp {
    Equal,
    Contains,
    Matches,
}

/// `Selector (MatchEqual / MatchNotEqual / MatchContains / MatchNotContains / MatchMatches
///   / MatchNotMatches) Value`
fn selector_op_value<'i>(i: &mut In<'i>) -> PResult<MatchExpr> {
    let selector = selector(i)?;
    let (op, negate) = alt((
        |i: &mut In<'i>| {
            ws_opt(i);
            lit(i, "==")?;
            ws_opt(i);
            Ok((ValueOp::Equal, false))
        },
        |i: &mut In<'i>| {
            ws_opt(i);
            lit(i, "!=")?;
            ws_opt(i);
            Ok((ValueOp::Equal, true))
        },
        |i: &mut In<'i>| words(i, &["contains"]).map(|()| (ValueOp::Contains, false)),
        |i: &mut In<'i>| words(i, &["not", "contains"]).map(|()| (ValueOp::Contains, true)),
        |i: &mut In<'i>| words(i, &["matches"]).map(|()| (ValueOp::Matches, false)),
        |i: &mut In<'i>| words(i, &["not", "matches"]).map(|()| (ValueOp::Matches, true)),
    ))
    .parse_next(i)?;
    let raw = value(i)?;
    let test = match op {
        ValueOp::Equal => Test::Equal(Literal::new(raw)),
        ValueOp::Contains => Test::In(Literal::new(raw)),
        ValueOp::Matches => Test::matches(raw),
    };
    Ok(MatchExpr {
        selector,
        test,
        negate,
    })
}

/// `_ w1 _ w2 ... _`: keywords each preceded and followed by whitespace.
fn words(i: &mut In<'_>, keywords: &[&'static str]) -> PResult<()> {
    for keyword in keywords {
        ws(i)?;
        lit(i, keyword)?;
    }
    ws(i)
}

/// `Selector (MatchIsEmpty / MatchIsNotEmpty)` where `MatchIsEmpty <- _ "is" _ "empty"`.
fn selector_op<'i>(i: &mut In<'i>) -> PResult<MatchExpr> {
    let selector = selector(i)?;
    let negate = alt((
        |i: &mut In<'i>| {
            ws(i)?;
            lit(i, "is")?;
            ws(i)?;
            lit(i, "empty")?;
            Ok(false)
        },
        |i: &mut In<'i>| {
            ws(i)?;
            lit(i, "is")?;
            ws(i)?;
            lit(i, "not")?;
            ws(i)?;
            lit(i, "empty")?;
            Ok(true)
        },
    ))
    .parse_next(i)?;
    Ok(MatchExpr {
        selector,
        test: Test::IsEmpty,
        negate,
    })
}

/// `MatchIn <- _ "in" _` / `MatchNotIn <- _ "not" _ "in" _`; `true` when negated.
fn in_op<'i>(i: &mut In<'i>) -> PResult<bool> {
    alt((
        |i: &mut In<'i>| words(i, &["in"]).map(|()| false),
        |i: &mut In<'i>| words(i, &["not", "in"]).map(|()| true),
    ))
    .parse_next(i)
}

/// `Value (MatchIn / MatchNotIn) Selector / Value (MatchIn / MatchNotIn) !Selector
///   &{ Invalid selector }`
fn value_op_selector<'i>(i: &mut In<'i>) -> PResult<MatchExpr> {
    alt((
        |i: &mut In<'i>| {
            let raw = value(i)?;
            let negate = in_op(i)?;
            let selector = selector(i)?;
            Ok(MatchExpr {
                selector,
                test: Test::In(Literal::new(raw)),
                negate,
            })
        },
        |i: &mut In<'i>| {
            value(i)?;
            in_op(i)?;
            not_ahead(i, selector)?;
            i.state.error(pos(i), "match", "Invalid selector");
            fail()
        },
    ))
    .parse_next(i)
}

// ---------------------------------------------------------------------------------------------
// Selectors and values.

/// `Selector "selector" <- Identifier SelectorOrIndex* / '"' JsonPointerSegment* '"'`
fn selector<'i>(i: &mut In<'i>) -> PResult<Selector> {
    alt((
        |i: &mut In<'i>| {
            let mut path = vec![identifier(i)?];
            while let Ok(segment) = attempt(i, selector_or_index) {
                path.push(segment);
            }
            Ok(Selector {
                kind: SelectorKind::Dotted,
                path,
            })
        },
        |i: &mut In<'i>| {
            lit(i, "\"")?;
            let mut segments = Vec::new();
            while let Ok(segment) = attempt(i, json_pointer_segment) {
                segments.push(segment);
            }
            lit(i, "\"")?;
            // pointerstructure.Parse("/" + segments joined by "/"): no segment holds a "/",
            // so the parts are the segments (one empty part when there are none), unescaped.
            let joined = segments.join("/");
            let path = joined
                .split('/')
                .map(|part| part.replace("~1", "/").replace("~0", "~"))
                .collect();
            Ok(Selector {
                kind: SelectorKind::Pointer,
                path,
            })
        },
    ))
    .parse_next(i)
}

/// `JsonPointerSegment <- '/' [\pL\pN-_.~:|]+`
fn json_pointer_segment(i: &mut In<'_>) -> PResult<String> {
    const LABEL: &str = r"[\pL\pN-_.~:|]";
    lit(i, "/")?;
    let before = i.input;
    class(i, LABEL, is_pointer_char)?;
    while class(i, LABEL, is_pointer_char).is_ok() {}
    Ok(taken(before, i).to_string())
}

fn is_pointer_char(c: char) -> bool {
    static LETTER_OR_NUMBER: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^[\p{L}\p{N}]$").ok());
    if matches!(c, '-' | '_' | '.' | '~' | ':' | '|') {
        return true;
    }
    let mut buf = [0u8; 4];
    match LETTER_OR_NUMBER.as_ref() {
        Some(re) => re.is_match(c.encode_utf8(&mut buf)),
        None => c.is_alphanumeric(),
    }
}

/// `Identifier <- [a-zA-Z] [a-zA-Z0-9_/]*`
fn identifier(i: &mut In<'_>) -> PResult<String> {
    let before = i.input;
    class(i, "[a-zA-Z]", |c| c.is_ascii_alphabetic())?;
    while class(i, "[a-zA-Z0-9_/]", |c| {
        c.is_ascii_alphanumeric() || c == '_' || c == '/'
    })
    .is_ok()
    {}
    Ok(taken(before, i).to_string())
}

/// `SelectorOrIndex <- "." Identifier / IndexExpression / "." [0-9]+`
fn selector_or_index<'i>(i: &mut In<'i>) -> PResult<String> {
    alt((
        |i: &mut In<'i>| {
            lit(i, ".")?;
            identifier(i)
        },
        index_expression,
        |i: &mut In<'i>| {
            lit(i, ".")?;
            let before = i.input;
            class(i, "[0-9]", |c| c.is_ascii_digit())?;
            while class(i, "[0-9]", |c| c.is_ascii_digit()).is_ok() {}
            Ok(taken(before, i).to_string())
        },
    ))
    .parse_next(i)
}

/// `IndexExpression "index" <- "[" _? StringLiteral _? "]"
///   / "[" _? !StringLiteral &{ Invalid index }
///   / "[" _? StringLiteral _? !"]" &{ Unclosed index expression }`
fn index_expression<'i>(i: &mut In<'i>) -> PResult<String> {
    alt((
        |i: &mut In<'i>| {
            lit(i, "[")?;
            ws_opt(i);
            let key = string_literal(i)?;
            ws_opt(i);
            lit(i, "]")?;
            Ok(key)
        },
        |i: &mut In<'i>| {
            lit(i, "[")?;
            ws_opt(i);
            not_ahead(i, string_literal)?;
            i.state.error(pos(i), "index", "Invalid index");
            fail()
        },
        |i: &mut In<'i>| {
            lit(i, "[")?;
            ws_opt(i);
            string_literal(i)?;
            ws_opt(i);
            not_ahead(i, |i| lit(i, "]"))?;
            i.state.error(pos(i), "index", "Unclosed index expression");
            fail()
        },
    ))
    .parse_next(i)
}

/// `Value "value" <- Selector / NumberLiteral / StringLiteral`, as go-bexpr keeps it: a
/// selector becomes its text (so `passing` is the string "passing", and a quoted string that
/// reads as a JSON pointer, like `"/api"`, becomes its path joined by "/": `api`).
fn value<'i>(i: &mut In<'i>) -> PResult<String> {
    alt((
        |i: &mut In<'i>| selector(i).map(|s| s.display()),
        number_literal,
        string_literal,
    ))
    .parse_next(i)
}

/// `NumberLiteral "number" <- "-"? IntegerOrFloat &AfterNumbers
///   / "-"? IntegerOrFloat !AfterNumbers &{ Invalid number literal }`
fn number_literal<'i>(i: &mut In<'i>) -> PResult<String> {
    alt((
        |i: &mut In<'i>| {
            let before = i.input;
            let _ = lit(i, "-");
            integer_or_float(i)?;
            let text = taken(before, i).to_string();
            ahead(i, after_numbers)?;
            Ok(text)
        },
        |i: &mut In<'i>| {
            let _ = lit(i, "-");
            integer_or_float(i)?;
            not_ahead(i, after_numbers)?;
            i.state.error(pos(i), "number", "Invalid number literal");
            fail()
        },
    ))
    .parse_next(i)
}

/// `AfterNumbers <- &(_ / EOF / ")")`
fn after_numbers<'i>(i: &mut In<'i>) -> PResult<()> {
    ahead(i, |i: &mut In<'i>| {
        alt((ws, eof, |i: &mut In<'i>| lit(i, ")").map(|_| ()))).parse_next(i)
    })
}

/// `IntegerOrFloat <- ("0" / [1-9][0-9]*) ("." [0-9]+)?`
fn integer_or_float<'i>(i: &mut In<'i>) -> PResult<()> {
    alt((
        |i: &mut In<'i>| lit(i, "0").map(|_| ()),
        |i: &mut In<'i>| {
            class(i, "[1-9]", |c| matches!(c, '1'..='9'))?;
            while class(i, "[0-9]", |c| c.is_ascii_digit()).is_ok() {}
            Ok(())
        },
    ))
    .parse_next(i)?;
    let _ = attempt(i, |i| {
        lit(i, ".")?;
        class(i, "[0-9]", |c| c.is_ascii_digit())?;
        while class(i, "[0-9]", |c| c.is_ascii_digit()).is_ok() {}
        Ok(())
    });
    Ok(())
}

/// A quoted literal before unquoting.
enum Quoted<'i> {
    Raw(&'i str),
    Double(&'i str),
}

/// `StringLiteral "string" <- ('`' RawStringChar* '`' / '"' DoubleStringChar* '"')
///   { strconv.Unquote } / ('`' RawStringChar* / '"' DoubleStringChar*) EOF
///   &{ Unterminated string literal }`
fn string_literal<'i>(i: &mut In<'i>) -> PResult<String> {
    alt((
        |i: &mut In<'i>| {
            let at = pos(i);
            let quoted = alt((
                |i: &mut In<'i>| {
                    let body = delimited_body(i, "`")?;
                    lit(i, "`")?;
                    Ok(Quoted::Raw(body))
                },
                |i: &mut In<'i>| {
                    let body = delimited_body(i, "\"")?;
                    lit(i, "\"")?;
                    Ok(Quoted::Double(body))
                },
            ))
            .parse_next(i)?;
            Ok(match quoted {
                Quoted::Raw(body) => unquote_raw(body),
                Quoted::Double(body) => match unquote_double(body) {
                    Some(text) => text,
                    None => {
                        // The rule still matches (pigeon keeps going after an action error).
                        i.state.error(at, "string", "invalid syntax");
                        String::new()
                    }
                },
            })
        },
        |i: &mut In<'i>| {
            alt((
                |i: &mut In<'i>| delimited_body(i, "`"),
                |i: &mut In<'i>| delimited_body(i, "\""),
            ))
            .parse_next(i)?;
            eof(i)?;
            i.state
                .error(pos(i), "string", "Unterminated string literal");
            fail()
        },
    ))
    .parse_next(i)
}

/// The opening `quote` and every following character up to (not including) the next `quote`
/// (`RawStringChar <- !'`' .`, `DoubleStringChar <- !'"' .`); returns the characters.
fn delimited_body<'i>(i: &mut In<'i>, quote_mark: &'static str) -> PResult<&'i str> {
    lit(i, quote_mark)?;
    let before = i.input;
    while attempt(i, |i| {
        not_ahead(i, |i| lit(i, quote_mark))?;
        any_char(i)
    })
    .is_ok()
    {}
    Ok(taken(before, i))
}
