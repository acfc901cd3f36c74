//! Errors: a malformed expression ([`FilterError`], Consul's 400 body) and a failed evaluation
//! ([`EvalError`]); the texts are go-bexpr's.

use std::fmt;

use crate::gostr::{NumError, quote};

/// One syntax problem, placed like pigeon (go-bexpr's parser generator) places it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// Column in characters: 1-based, except that a position on a newline is reported as
    /// column 0 of the next line (pigeon's convention).
    pub column: usize,
    /// Byte offset into the expression.
    pub offset: usize,
    /// The grammar rule that reported it (`string`, `number`, `index`, `match`, `grouping`),
    /// or `None` for "no match found".
    pub rule: Option<&'static str>,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} ({}): ", self.line, self.column, self.offset)?;
        if let Some(rule) = self.rule {
            write!(f, "rule {}: ", quote(rule))?;
        }
        f.write_str(&self.message)
    }
}

/// A malformed filter expression. Its text is the body Consul answers with (HTTP 400), e.g.
/// `Failed to create boolean expression evaluator: 1:10 (9): no match found, expected: "and",
/// "or", [ \t\r\n] or EOF`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Failed to create boolean expression evaluator: {}", join_lines(.errors))]
pub struct FilterError {
    /// The problems, in the order found, at least one.
    pub errors: Vec<SyntaxError>,
}

fn join_lines(errors: &[SyntaxError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why evaluating an expression against one item failed (go-bexpr's evaluation errors; Consul
/// fails the whole request with this text).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A selector walked into something it cannot index: a list with a non-numeric segment
    /// (`Checks.Status`), an index out of range, or a scalar.
    #[error("error finding value in datum: {0}")]
    Lookup(String),
    /// `==`/`!=` on a list, a map or null.
    #[error("unable to find suitable primitive comparison function for matching")]
    NotComparable,
    /// The literal does not parse as the field's type (`Port == abc`).
    #[error("error getting match value in expression: {0}")]
    Coerce(NumError),
    /// `in`/`contains` over a list holding lists, maps or nulls.
    #[error(
        "unable to find suitable primitive comparison function for \"in\" comparison in interface slice: {kind}"
    )]
    InListElement {
        /// Go kind of the element (`map`, `slice`, `invalid`).
        kind: &'static str,
    },
    /// `in`/`contains` where the literal overflows a numeric list element.
    #[error("error getting interface slice match value in expression")]
    InListValue,
    /// `in`/`contains` on a number or a boolean.
    #[error("Cannot perform in/contains operations on type {kind} for selector: {}", quote(.selector))]
    InUnsupported {
        /// Go kind of the field.
        kind: &'static str,
        /// The selector as written.
        selector: String,
    },
    /// `is empty` on a number or a boolean.
    #[error("cannot perform is-empty operations on type {kind} for selector: {}", quote(.selector))]
    IsEmptyUnsupported {
        /// Go kind of the field.
        kind: &'static str,
        /// The selector as written.
        selector: String,
    },
    /// `matches` on something other than a string.
    #[error("Value of type {type_name} is not convertible to []byte")]
    MatchesUnsupported {
        /// Go type of the field.
        type_name: &'static str,
    },
    /// The pattern of `matches` is not a valid regular expression.
    #[error("Failed to compile regular expression {}: {reason}", quote(.pattern))]
    Regex {
        /// The pattern.
        pattern: String,
        /// The regex compiler's complaint.
        reason: String,
    },
    /// `any`/`all` over something that is neither a list nor a map.
    #[error("{selector} is not a list or a map")]
    NotCollection {
        /// The selector as written.
        selector: String,
    },
    /// `as k, k`.
    #[error("{} cannot be used as a placeholder for both the index and the value", quote(.name))]
    PlaceholderClash {
        /// The repeated name.
        name: String,
    },
    /// A path continues past a bound index or key (`any Map as k { k.Color == "red" }`).
    #[error("{variable} references a {type_name} so {path} is invalid")]
    BoundScalar {
        /// The bound name as a JSON pointer (`/k`).
        variable: String,
        /// `int` (a list index) or `string` (a map key).
        type_name: &'static str,
        /// The full path as a JSON pointer (`/k/Color`).
        path: String,
    },
}
