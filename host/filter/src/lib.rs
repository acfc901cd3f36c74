//! praetor-filter: Consul's `?filter=` expression language (HashiCorp go-bexpr, v0.1.14 as
//! Consul uses it) parsed with winnow and evaluated over the JSON objects praetor renders for
//! each element of a listing.
//!
//! ```
//! let filter = praetor_filter::parse(r#"Service == "web" and "primary" in Tags"#).unwrap();
//! let item = serde_json::json!({"Service": "web", "Tags": ["primary", "v2"], "Port": 80});
//! assert!(filter.matches(&item));
//! ```
//!
//! # Grammar
//!
//! go-bexpr's, rule for rule (`grammar/grammar.peg`): `==`, `!=`, `in`, `not in`, `contains`,
//! `not contains`, `matches`, `not matches` (regular expressions), `is empty`, `is not empty`,
//! `and`, `or`, `not`, parentheses, and the collection forms `any Selector as x { ... }` /
//! `all Selector as k, v { ... }` (also `as k, _` and `as _, v`). `not` binds tighter than
//! `and`, which binds tighter than `or`. Selectors are dotted paths (`Service.Meta.env`, `Checks.0.Status`), with
//! `["any key"]` for map keys that are not identifiers, or quoted JSON pointers
//! (`"/Service/Meta/env"`). Values are bare words (read as text: `passing`, `Service.Name`),
//! numbers (`80`, `-1.5`), double-quoted strings with Go escapes, and backtick raw strings.
//! Quirks kept from go-bexpr: keywords need whitespace around them (`not(a == 1)` is an
//! error); `\"` cannot appear inside a double-quoted string; a quoted value that reads as a
//! JSON pointer is taken as that path's text (`Name == "/api"` compares with `api`); a
//! collection form cannot be followed by `or` unless parenthesised; `not not x` is `x`.
//!
//! # Semantics
//!
//! As go-bexpr's evaluator, with JSON values in place of Go values:
//! - `==`/`!=` compare a string field with the value's text; for a number or boolean field the
//!   value is first parsed as the field's type with Go's rules (`ParseInt` base 0 for JSON
//!   integers, so `80`, `"80"` and `0x50` all equal 80; `ParseFloat` for JSON floats;
//!   `ParseBool` for booleans, which accepts `true`, `T`, `1`, ...). A value that does not parse
//!   (`Port == abc`) is an evaluation error, as is `==` on a list, a map or null.
//! - `in`/`contains` test a map for the key, a list for an element (each element compared by
//!   its own type; elements the value cannot be parsed as are skipped), a string for the
//!   substring. On a number or boolean it is an error.
//! - `is empty` holds for an empty string, list or map, and for null.
//! - `matches` applies the regular expression (unanchored) to a string field; anything else is
//!   an error. A pattern that does not compile fails evaluation, not parsing, as in go-bexpr.
//! - A selector through a list needs a numeric segment (`Checks.0.Status`). `Checks.Status`
//!   where `Checks` is a list is an evaluation error, exactly as in go-bexpr since it moved to
//!   JSON-pointer lookups (v0.1.3; the implicit "any element" of v0.1.2 is gone); write
//!   `any Checks as c { c.Status == "passing" }` instead.
//! - Missing fields: go-bexpr looks fields up in Go structs and fails evaluation for a field
//!   the type does not have, but treats a missing *map key* as absent. Over JSON we cannot tell
//!   a struct from a map, so every missing key, and null on the way, is absent: `==`, `in`,
//!   `matches` and `is not empty` do not hold, their negations and `is empty` do, `all` holds
//!   and `any` does not. [`parse`] checks syntax only; a caller that wants Consul's rejection
//!   of unknown fields can check [`Filter::selectors`] against the fields it renders.
//!
//! Evaluation errors are [`EvalError`]s with go-bexpr's texts. Consul fails the whole request
//! on one; [`Filter::evaluate`] and [`Filter::filter_values`] report them, [`Filter::matches`]
//! counts them as "no match".
//!
//! # Errors
//!
//! A malformed expression is a [`FilterError`] whose text is the body of Consul's answer:
//! `Failed to create boolean expression evaluator: ` followed by pigeon's message, e.g.
//! `1:10 (9): no match found, expected: "and", "or", [ \t\r\n] or EOF` (line:column (byte
//! offset)), or `1:12 (11): rule "string": Unterminated string literal`.
//!
//! # Known differences from go-bexpr
//!
//! - Regular expressions use the `regex` crate: `\d`, `\w`, `\s`, `\b` are Unicode-aware
//!   (ASCII in Go) and compile errors read differently.
//! - Go-specific literal forms that are never useful here are refused: hexadecimal floats and
//!   underscores in floats; `\x`/octal escapes that do not form UTF-8 become U+FFFD.
//! - Nesting of parentheses and `any`/`all` is limited to [`MAX_DEPTH`] levels.
//! - `is nil` (go-bexpr v0.1.16, newer than Consul's) is not supported.
//! - An empty expression matches everything (Consul's "no filter"); whitespace alone is a
//!   syntax error, as in Consul.

mod ast;
mod error;
mod eval;
mod gostr;
mod parser;

use std::sync::Arc;

use serde_json::Value;

pub use error::{EvalError, FilterError, SyntaxError};
pub use gostr::{NumError, NumErrorKind};
pub use parser::MAX_DEPTH;

/// A parsed filter expression, cheap to clone and to share between threads.
#[derive(Clone, Debug)]
pub struct Filter {
    inner: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    expression: String,
    /// `None` for the empty expression, which matches everything.
    root: Option<ast::Expr>,
    selectors: Vec<Vec<String>>,
}

/// Parse a filter expression (syntax only: field names are not checked).
///
/// The empty string gives a filter that matches everything.
pub fn parse(expression: &str) -> Result<Filter, FilterError> {
    let root = if expression.is_empty() {
        None
    } else {
        Some(parser::parse_expression(expression).map_err(|errors| FilterError { errors })?)
    };
    let selectors = root.as_ref().map(ast::root_selectors).unwrap_or_default();
    Ok(Filter {
        inner: Arc::new(Compiled {
            expression: expression.to_string(),
            root,
            selectors,
        }),
    })
}

impl Filter {
    /// The expression as given to [`parse`].
    pub fn expression(&self) -> &str {
        &self.inner.expression
    }

    /// The selector paths rooted at the item, in order of appearance, each once (paths that
    /// start with a name bound by `any`/`all` are left out). `Service.Meta["a b"]` is
    /// `["Service", "Meta", "a b"]`; the first segment is the top-level field.
    pub fn selectors(&self) -> &[Vec<String>] {
        &self.inner.selectors
    }

    /// Whether `item` passes, or why the expression cannot be evaluated against it.
    pub fn evaluate(&self, item: &Value) -> Result<bool, EvalError> {
        match &self.inner.root {
            None => Ok(true),
            Some(root) => eval::evaluate(root, item),
        }
    }

    /// Whether `item` passes; an evaluation error counts as not passing.
    pub fn matches(&self, item: &Value) -> bool {
        self.evaluate(item).unwrap_or(false)
    }

    /// The items that pass, in order. The first evaluation error fails the whole listing, as
    /// in Consul.
    pub fn filter_values(&self, items: Vec<Value>) -> Result<Vec<Value>, EvalError> {
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            if self.evaluate(&item)? {
                kept.push(item);
            }
        }
        Ok(kept)
    }
}
