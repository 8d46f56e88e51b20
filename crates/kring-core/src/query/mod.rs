//! The query parameters of lists and shows (`spec/cirqll.md` §4): `with`, `show`, `count`,
//! `filter`, `order_by`, `limit` (alias `per_page`) and `offset`.
//!
//! Two layers, so that each can be tested (and fuzzed) on its own:
//!
//! - [`syntax`] and [`filter`] read the parameters as written, knowing nothing of resources.
//!   Every syntax type prints back ([`std::fmt::Display`]) to a form that reads as the same tree.
//! - [`plan()`] resolves that syntax against a [`ResourceDef`](crate::resource::ResourceDef) and
//!   the [`Registry`](crate::resource::Registry) into a typed [`Plan`]: relations, columns and
//!   coerced values the server turns into SQL without further checks.
//!
//! Everything a client can get wrong is a [`QueryError`] (400) whose message names the
//! parameter, the offending text and what is allowed. Unknown parameters are ignored, as
//! Laravel ignores them.

mod decode;
pub mod filter;
mod page;
mod plan;
pub mod syntax;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod proptests;

use crate::i18n::Message;

pub use decode::parse_query_string;
pub use filter::{FilterExpr, Literal, Op, RawCondition};
pub use page::{DEFAULT_LIMIT, MAX_LIMIT, Page};
pub use plan::{
    Comparison, Condition, Count, Filter, MAX_FILTER_HOPS, MAX_FILTER_JOINS,
    MAX_FILTER_TO_MANY_HOPS, MAX_WEIGHT, Operand, Order, Pattern, Plan, PlanKind, Step, Test, View,
    WithNode, plan, plan_view,
};
pub use syntax::{Direction, List, OrderItem, Path, QuerySyntax};

/// A bad query parameter: answered with 400 and the rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError(pub Message);

impl QueryError {
    /// A message for parameter `param`; the catalog key is `key`.
    fn new(key: &'static str, param: &'static str) -> QueryError {
        QueryError(Message::new(key).with("param", param))
    }

    fn with(self, name: &'static str, value: impl Into<String>) -> QueryError {
        QueryError(self.0.with(name, value))
    }
}

/// Echoing user input in a message: keep it short.
pub fn truncate(raw: &str, max_chars: usize) -> String {
    if raw.chars().count() <= max_chars {
        raw.to_string()
    } else {
        let mut cut: String = raw.chars().take(max_chars).collect();
        cut.push('…');
        cut
    }
}

/// How much of a client's text a message quotes.
const ECHO_CHARS: usize = 60;

/// Client text as quoted in a message.
fn echo(raw: &str) -> String {
    truncate(raw, ECHO_CHARS)
}

/// The one value given for a parameter known by any of `names`; twice is an error, because
/// silently picking one would hide a client bug.
fn single<'a>(
    pairs: &'a [(String, String)],
    names: &[&'static str],
) -> Result<Option<(&'static str, &'a str)>, QueryError> {
    let mut found: Option<(&'static str, &'a str)> = None;
    for (key, value) in pairs {
        if let Some(name) = names.iter().find(|n| **n == key) {
            if found.is_some() {
                return Err(QueryError::new("query.repeated", name));
            }
            found = Some((name, value));
        }
    }
    Ok(found)
}
