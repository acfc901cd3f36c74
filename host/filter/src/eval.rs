//! Evaluation of a parsed expression against one JSON item, following go-bexpr's
//! `evaluate.go` with JSON values standing in for Go values (see the crate documentation for
//! where the two differ).

use std::borrow::Cow;

use serde_json::{Number, Value};

use crate::ast::{Binding, CollectionExpr, CollectionOp, Expr, Literal, MatchExpr, Test};
use crate::error::EvalError;
use crate::gostr::{NumError, NumErrorKind, parse_int, quote};

/// A name bound by `any`/`all`.
struct LocalVar<'e> {
    name: &'e str,
    target: Target,
}

/// What a bound name stands for.
enum Target {
    /// An element or map value, by its (unresolved) path, as go-bexpr keeps it.
    Path(Vec<String>),
    /// A list index (`int`) or a map key (`string`).
    Known(Value, &'static str),
}

/// Evaluate `expr` against `item`.
pub(crate) fn evaluate(expr: &Expr, item: &Value) -> Result<bool, EvalError> {
    let mut vars = Vec::new();
    eval(expr, item, &mut vars)
}

fn eval<'e>(expr: &'e Expr, root: &Value, vars: &mut Vec<LocalVar<'e>>) -> Result<bool, EvalError> {
    match expr {
        Expr::And(items) => {
            for item in items {
                if !eval(item, root, vars)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Expr::Or(items) => {
            for item in items {
                if eval(item, root, vars)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Expr::Not(inner) => eval(inner, root, vars).map(|result| !result),
        Expr::Match(m) => eval_match(m, root, vars),
        Expr::Collection(c) => eval_collection(c, root, vars),
    }
}

/// The value a selector reaches.
enum Found<'d> {
    Value(Cow<'d, Value>),
    /// A missing object key, or null on the way.
    Absent,
}

/// go-bexpr's `getValue`: substitute bound names (innermost first), then walk the item.
fn lookup<'d>(
    root: &'d Value,
    path: &[String],
    vars: &[LocalVar<'_>],
) -> Result<Found<'d>, EvalError> {
    let mut path: Cow<'_, [String]> = Cow::Borrowed(path);
    for var in vars.iter().rev() {
        let Some(first) = path.first() else {
            break;
        };
        if first != var.name {
            continue;
        }
        match &var.target {
            Target::Known(value, type_name) => {
                if path.len() > 1 {
                    return Err(EvalError::BoundScalar {
                        variable: pointer(&path[..1]),
                        type_name,
                        path: pointer(&path),
                    });
                }
                return Ok(Found::Value(Cow::Owned(value.clone())));
            }
            Target::Path(prefix) => {
                let mut full = prefix.clone();
                full.extend_from_slice(&path[1..]);
                path = Cow::Owned(full);
            }
        }
    }
    walk(root, &path)
}

/// pointerstructure's `Get` over JSON: objects by key, arrays by index.
fn walk<'d>(root: &'d Value, path: &[String]) -> Result<Found<'d>, EvalError> {
    let mut current = root;
    for (at, part) in path.iter().enumerate() {
        current = match current {
            Value::Object(map) => match map.get(part) {
                Some(next) => next,
                None => return Ok(Found::Absent),
            },
            Value::Array(items) => {
                // mapstructure's weak decoding of the part into an int.
                let index = parse_int(if part.is_empty() { "0" } else { part }).map_err(|_| {
                    EvalError::Lookup(format!(
                        "{} at part {at}: couldn't convert value {} to type int",
                        pointer(path),
                        quote(part)
                    ))
                })?;
                match usize::try_from(index).ok().and_then(|i| items.get(i)) {
                    Some(next) => next,
                    None => {
                        return Err(EvalError::Lookup(format!(
                            "{} at part {at}: index {index} is out of range (length = {})",
                            pointer(path),
                            items.len()
                        )));
                    }
                }
            }
            Value::Null => return Ok(Found::Absent),
            scalar => {
                return Err(EvalError::Lookup(format!(
                    "{}: at part {at}, invalid value kind: {}",
                    pointer(path),
                    go_kind(scalar)
                )));
            }
        };
    }
    Ok(Found::Value(Cow::Borrowed(current)))
}

/// pointerstructure's `Pointer.String()`.
fn pointer(parts: &[String]) -> String {
    if parts.is_empty() {
        return String::new();
    }
    let escaped: Vec<String> = parts
        .iter()
        .map(|p| p.replace('~', "~0").replace('/', "~1"))
        .collect();
    format!("/{}", escaped.join("/"))
}

/// The Go kind a JSON value stands for, as `reflect.Kind.String()` names it.
fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int",
        Value::Number(n) if n.is_u64() => "uint64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// The Go type a JSON value stands for, as `reflect.Type.String()` names it.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        other => go_kind(other),
    }
}

fn eval_match(m: &MatchExpr, root: &Value, vars: &[LocalVar<'_>]) -> Result<bool, EvalError> {
    let value = match lookup(root, &m.selector.path, vars)? {
        Found::Absent => return Ok(m.test.when_absent() != m.negate),
        Found::Value(value) => value,
    };
    let result = match &m.test {
        Test::Equal(literal) => equal(literal, &value)?,
        Test::In(literal) => contains(literal, &value, m)?,
        Test::IsEmpty => is_empty(&value, m)?,
        Test::Matches { pattern, regex } => match value.as_ref() {
            Value::String(s) => match regex {
                Ok(re) => re.is_match(s),
                Err(reason) => {
                    return Err(EvalError::Regex {
                        pattern: pattern.clone(),
                        reason: reason.clone(),
                    });
                }
            },
            other => {
                return Err(EvalError::MatchesUnsupported {
                    type_name: go_type(other),
                });
            }
        },
    };
    Ok(result != m.negate)
}

/// `==`: the literal coerced to the field's type.
fn equal(literal: &Literal, value: &Value) -> Result<bool, EvalError> {
    match value {
        Value::String(s) => Ok(*s == literal.raw),
        Value::Bool(b) => coerced(&literal.as_bool).map(|x| x == *b),
        Value::Number(n) => number_equal(literal, n),
        _ => Err(EvalError::NotComparable),
    }
}

fn coerced<T: Copy>(parsed: &Result<T, NumError>) -> Result<T, EvalError> {
    parsed.clone().map_err(EvalError::Coerce)
}

/// A JSON integer is a Go `int` (or `uint64` past `i64`), anything else a `float64`.
fn number_equal(literal: &Literal, n: &Number) -> Result<bool, EvalError> {
    if let Some(i) = n.as_i64() {
        coerced(&literal.as_int).map(|x| x == i)
    } else if let Some(u) = n.as_u64() {
        coerced(&literal.as_uint).map(|x| x == u)
    } else if let Some(f) = n.as_f64() {
        coerced(&literal.as_float).map(|x| x == f)
    } else {
        Err(EvalError::NotComparable)
    }
}

/// `in` / `contains`: a key of a map, an element of a list, a substring of a string.
fn contains(literal: &Literal, value: &Value, m: &MatchExpr) -> Result<bool, EvalError> {
    match value {
        Value::Object(map) => Ok(map.contains_key(&literal.raw)),
        Value::String(s) => Ok(s.contains(literal.raw.as_str())),
        // A nil list or map holds nothing.
        Value::Null => Ok(false),
        Value::Array(items) => {
            // go-bexpr's `[]interface{}` case: each element by its own type; a literal that
            // does not parse as that type skips the element.
            for item in items {
                let hit = match item {
                    Value::String(s) => *s == literal.raw,
                    Value::Bool(_) | Value::Number(_) => match equal(literal, item) {
                        Ok(hit) => hit,
                        Err(EvalError::Coerce(e)) if e.kind == NumErrorKind::Syntax => continue,
                        Err(_) => return Err(EvalError::InListValue),
                    },
                    other => {
                        return Err(EvalError::InListElement {
                            kind: go_kind(other),
                        });
                    }
                };
                if hit {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        other => Err(EvalError::InUnsupported {
            kind: go_kind(other),
            selector: m.selector.display(),
        }),
    }
}

/// `is empty`: a string, list or map of length 0 (null counts as an empty list or map).
fn is_empty(value: &Value, m: &MatchExpr) -> Result<bool, EvalError> {
    match value {
        Value::Null => Ok(true),
        Value::String(s) => Ok(s.is_empty()),
        Value::Array(items) => Ok(items.is_empty()),
        Value::Object(map) => Ok(map.is_empty()),
        other => Err(EvalError::IsEmptyUnsupported {
            kind: go_kind(other),
            selector: m.selector.display(),
        }),
    }
}

/// `any`/`all`: the inner expression for each element of a list or entry of a map, with the
/// bound names in scope.
fn eval_collection<'e>(
    c: &'e CollectionExpr,
    root: &Value,
    vars: &mut Vec<LocalVar<'e>>,
) -> Result<bool, EvalError> {
    let value = match lookup(root, &c.selector.path, vars)? {
        Found::Absent => return Ok(c.op == CollectionOp::All),
        Found::Value(value) => value,
    };
    // The elements, each as (index or key, path segment).
    let entries: Vec<(Value, &'static str, String)> = match value.as_ref() {
        Value::Array(items) => (0..items.len())
            .map(|i| (Value::from(i), "int", i.to_string()))
            .collect(),
        Value::Object(map) => map
            .keys()
            .map(|k| (Value::String(k.clone()), "string", k.clone()))
            .collect(),
        Value::Null => Vec::new(),
        _ => {
            return Err(EvalError::NotCollection {
                selector: c.selector.display(),
            });
        }
    };
    let is_map = value.is_object();
    for (key, key_type, segment) in entries {
        if let Binding::IndexAndValue(index, value) = &c.binding
            && index == value
        {
            return Err(EvalError::PlaceholderClash {
                name: index.clone(),
            });
        }
        let element = || {
            let mut path = c.selector.path.clone();
            path.push(segment.clone());
            Target::Path(path)
        };
        let before = vars.len();
        match &c.binding {
            Binding::Default(name) => {
                let target = if is_map {
                    Target::Known(key.clone(), key_type)
                } else {
                    element()
                };
                vars.push(LocalVar { name, target });
            }
            Binding::Index(name) => vars.push(LocalVar {
                name,
                target: Target::Known(key.clone(), key_type),
            }),
            Binding::Value(name) => vars.push(LocalVar {
                name,
                target: element(),
            }),
            Binding::IndexAndValue(index, value) => {
                vars.push(LocalVar {
                    name: index,
                    target: Target::Known(key.clone(), key_type),
                });
                vars.push(LocalVar {
                    name: value,
                    target: element(),
                });
            }
        }
        let result = eval(&c.inner, root, vars);
        vars.truncate(before);
        let result = result?;
        match c.op {
            CollectionOp::Any if result => return Ok(true),
            CollectionOp::All if !result => return Ok(false),
            _ => {}
        }
    }
    Ok(c.op == CollectionOp::All)
}
