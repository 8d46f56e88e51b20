//! The `filter` grammar (`spec/cirqll.md` §4.4), read into a tree that knows nothing of
//! resources:
//!
//! ```text
//! expr  := item ( "," [ ("and" | "or") "," ] item )*    ; a bare comma is "and"
//! item  := "(" expr ")" | cond
//! cond  := path ":" [ "not" ":" ] op ":" value
//! path  := ident ( "." ident )*                          ; ident: letters, digits, "_"
//! op    := eq | gt | lt | gte | lte | like | contains | starts_with | ends_with | in
//! value := quoted | raw                                  ; `in`: values separated by ";"
//! ```
//!
//! - **Precedence**: `and` binds tighter than `or`, as in SQL, so `a,or,b,and,c` means
//!   `a or (b and c)`. Parentheses group to any depth up to [`MAX_FILTER_DEPTH`].
//! - **Values**: a quoted value (`"Acme, Inc. (NL)"`) may hold any character; inside it `\"` is a
//!   quote and `\\` a backslash, and any other escape is an error. A raw value runs to the next
//!   `,` or `)` (and `;` inside an `in` list) and is trimmed. The unquoted word `null` (any case)
//!   is [`Literal::Null`]; `"null"` is the text.
//! - **Case and spacing**: `and`, `or`, `not` and the operators are case-insensitive; spaces
//!   around items, connectors and parentheses are skipped.
//! - **Bounds**: at most [`MAX_FILTER_BYTES`] of text, [`MAX_FILTER_DEPTH`] nested parentheses
//!   and [`MAX_FILTER_CONDITIONS`] conditions, so parsing uses bounded memory and recursion
//!   whatever the client sends.

use std::fmt;

use super::syntax::Path;
use super::{QueryError, echo};

/// The longest filter read, in bytes.
pub const MAX_FILTER_BYTES: usize = 8 * 1024;
/// How deeply parentheses may nest.
pub const MAX_FILTER_DEPTH: usize = 32;
/// How many conditions one filter may hold.
pub const MAX_FILTER_CONDITIONS: usize = 100;
/// The most values one `in` list may hold (SQLite nests long OR chains past its depth limit).
pub const MAX_IN_VALUES: usize = 500;

/// A filter as written. The parser returns it normalised, as [`FilterExpr::all`] and
/// [`FilterExpr::any`] build it: no group has fewer than two parts, and no `All` sits directly
/// in an `All` (nor `Any` in `Any`). Parentheses that change nothing leave no trace.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterExpr {
    /// Every part holds (`a,b` or `a,and,b`).
    All(Vec<FilterExpr>),
    /// At least one part holds (`a,or,b`).
    Any(Vec<FilterExpr>),
    Cond(RawCondition),
}

impl FilterExpr {
    /// Every part must hold; flattens nested `All`s and unwraps a lone part.
    pub fn all(parts: Vec<FilterExpr>) -> FilterExpr {
        Self::group(parts, FilterExpr::All, |part| match part {
            FilterExpr::All(inner) => Ok(inner),
            other => Err(other),
        })
    }

    /// At least one part must hold; flattens nested `Any`s and unwraps a lone part.
    pub fn any(parts: Vec<FilterExpr>) -> FilterExpr {
        Self::group(parts, FilterExpr::Any, |part| match part {
            FilterExpr::Any(inner) => Ok(inner),
            other => Err(other),
        })
    }

    fn group(
        parts: Vec<FilterExpr>,
        make: fn(Vec<FilterExpr>) -> FilterExpr,
        same_kind: fn(FilterExpr) -> Result<Vec<FilterExpr>, FilterExpr>,
    ) -> FilterExpr {
        let mut flat = Vec::with_capacity(parts.len());
        for part in parts {
            match same_kind(part) {
                Ok(inner) => flat.extend(inner),
                Err(other) => flat.push(other),
            }
        }
        if flat.len() == 1
            && let Some(only) = flat.pop()
        {
            return only;
        }
        make(flat)
    }

    /// The number of conditions in the tree.
    pub fn conditions(&self) -> usize {
        match self {
            FilterExpr::All(parts) | FilterExpr::Any(parts) => {
                parts.iter().map(FilterExpr::conditions).sum()
            }
            FilterExpr::Cond(_) => 1,
        }
    }
}

impl std::str::FromStr for FilterExpr {
    type Err = QueryError;

    fn from_str(input: &str) -> Result<FilterExpr, QueryError> {
        parse_filter(input)
    }
}

/// One `path:[not:]op:value` condition as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCondition {
    pub path: Path,
    pub negated: bool,
    pub op: Op,
    /// One value for every operator but `in`, which has one or more.
    pub values: Vec<Literal>,
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Lt,
    Gte,
    Lte,
    Like,
    Contains,
    StartsWith,
    EndsWith,
    In,
}

impl Op {
    pub const ALL: [Op; 10] = [
        Op::Eq,
        Op::Gt,
        Op::Lt,
        Op::Gte,
        Op::Lte,
        Op::Like,
        Op::Contains,
        Op::StartsWith,
        Op::EndsWith,
        Op::In,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Gt => "gt",
            Op::Lt => "lt",
            Op::Gte => "gte",
            Op::Lte => "lte",
            Op::Like => "like",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::In => "in",
        }
    }

    /// The operator named `raw`, in any case.
    pub fn parse(raw: &str) -> Option<Op> {
        Op::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(raw))
    }

    /// `eq, gt, …` for messages.
    pub fn list(ops: &[Op]) -> String {
        ops.iter()
            .map(|op| op.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// The unquoted word `null`.
    Null,
    Text(String),
}

/// Parses a whole `filter` parameter.
pub fn parse_filter(input: &str) -> Result<FilterExpr, QueryError> {
    if input.len() > MAX_FILTER_BYTES {
        return Err(error("query.filter_too_long")
            .with("length", input.len().to_string())
            .with("max", MAX_FILTER_BYTES.to_string()));
    }
    let mut parser = Parser {
        input,
        pos: 0,
        conditions: 0,
    };
    parser.skip_spaces();
    if parser.at_end() {
        return Err(error("query.filter_empty"));
    }
    let expr = parser.expr(0)?;
    // `expr` stops only at the end or at a `)` it did not open.
    if !parser.at_end() {
        return Err(error("query.filter_unopened").with("near", parser.near()));
    }
    Ok(expr)
}

fn error(key: &'static str) -> QueryError {
    QueryError::new(key, "filter")
}

/// A recursive-descent parser over the filter's bytes. Every byte it stops at is ASCII, so each
/// slice it takes falls on a character boundary.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
    conditions: usize,
}

enum Connector {
    And,
    Or,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn near(&self) -> String {
        echo(self.rest())
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// The position of the first of `stops` from the current position, or the end.
    fn find(&self, stops: &[u8]) -> usize {
        self.rest()
            .bytes()
            .position(|b| stops.contains(&b))
            .map_or(self.input.len(), |offset| self.pos + offset)
    }

    /// `item ( "," [connector ","] item )*`, grouped into an OR of ANDs.
    fn expr(&mut self, depth: usize) -> Result<FilterExpr, QueryError> {
        let mut any_of: Vec<Vec<FilterExpr>> = vec![vec![self.item(depth)?]];
        loop {
            self.skip_spaces();
            match self.peek() {
                None | Some(b')') => break,
                Some(b',') => self.pos += 1,
                Some(_) => return Err(error("query.filter_unexpected").with("near", self.near())),
            }
            if let Some(Connector::Or) = self.connector()? {
                any_of.push(Vec::new());
            }
            let item = self.item(depth)?;
            if let Some(all_of) = any_of.last_mut() {
                all_of.push(item);
            }
        }
        Ok(FilterExpr::any(
            any_of.into_iter().map(FilterExpr::all).collect(),
        ))
    }

    /// An `and,` or `or,` after a comma, consumed; otherwise nothing is consumed (a field may
    /// be called `and`).
    fn connector(&mut self) -> Result<Option<Connector>, QueryError> {
        let start = self.pos;
        self.skip_spaces();
        let word_end = self
            .rest()
            .bytes()
            .position(|b| !b.is_ascii_alphabetic())
            .map_or(self.input.len(), |offset| self.pos + offset);
        let word = self.input.get(self.pos..word_end).unwrap_or("");
        let connector = if word.eq_ignore_ascii_case("and") {
            Connector::And
        } else if word.eq_ignore_ascii_case("or") {
            Connector::Or
        } else {
            self.pos = start;
            return Ok(None);
        };
        self.pos = word_end;
        self.skip_spaces();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(Some(connector))
            }
            None | Some(b')') => Err(error("query.filter_dangling").with("connector", word)),
            Some(_) => {
                self.pos = start;
                Ok(None)
            }
        }
    }

    /// `"(" expr ")"` or a condition.
    fn item(&mut self, depth: usize) -> Result<FilterExpr, QueryError> {
        self.skip_spaces();
        match self.peek() {
            Some(b'(') => {
                if depth >= MAX_FILTER_DEPTH {
                    return Err(
                        error("query.filter_too_deep").with("max", MAX_FILTER_DEPTH.to_string())
                    );
                }
                self.pos += 1;
                let inner = self.expr(depth + 1)?;
                if self.peek() != Some(b')') {
                    return Err(error("query.filter_unclosed"));
                }
                self.pos += 1;
                Ok(inner)
            }
            None => Err(error("query.filter_expected_condition_at_end")),
            Some(b',' | b')') => {
                Err(error("query.filter_expected_condition").with("near", self.near()))
            }
            Some(_) => self.condition().map(FilterExpr::Cond),
        }
    }

    fn condition(&mut self) -> Result<RawCondition, QueryError> {
        self.conditions += 1;
        if self.conditions > MAX_FILTER_CONDITIONS {
            return Err(
                error("query.filter_too_many").with("max", MAX_FILTER_CONDITIONS.to_string())
            );
        }
        let start = self.pos;
        let path_text = self.token(start)?;
        let path = parse_path(path_text)
            .ok_or_else(|| self.condition_error("query.filter_bad_field", start))
            .map_err(|e| e.with("field", echo(path_text)))?;
        let mut op_text = self.token(start)?;
        let negated = op_text.eq_ignore_ascii_case("not");
        if negated {
            op_text = self.token(start)?;
        }
        let op = Op::parse(op_text).ok_or_else(|| {
            self.condition_error("query.filter_operator", start)
                .with("operator", echo(op_text))
                .with("allowed", Op::list(&Op::ALL))
        })?;
        let values = if op == Op::In {
            self.values(start)?
        } else {
            vec![self.value(start, b"),")?]
        };
        Ok(RawCondition {
            path,
            negated,
            op,
            values,
        })
    }

    /// The trimmed text up to the next `:`, which is consumed. Reaching `,`, `(`, `)` or the
    /// end first means the condition lacks a part.
    fn token(&mut self, start: usize) -> Result<&'a str, QueryError> {
        let end = self.find(b":,()");
        if self.input.as_bytes().get(end) != Some(&b':') {
            self.pos = end;
            return Err(self.condition_error("query.filter_incomplete", start));
        }
        let token = self.input.get(self.pos..end).unwrap_or("").trim();
        self.pos = end + 1;
        Ok(token)
    }

    /// The `;`-separated values of `in`, at most [`MAX_IN_VALUES`].
    fn values(&mut self, start: usize) -> Result<Vec<Literal>, QueryError> {
        let mut values = vec![self.in_item(start)?];
        while self.peek() == Some(b';') {
            self.pos += 1;
            if values.len() == MAX_IN_VALUES {
                return Err(self
                    .condition_error("query.filter_too_many_values", start)
                    .with("max", MAX_IN_VALUES.to_string()));
            }
            values.push(self.in_item(start)?);
        }
        Ok(values)
    }

    /// One item of an `in` list; an empty one must be written `""`, so `a;` is not silently
    /// read as "a or the empty text".
    fn in_item(&mut self, start: usize) -> Result<Literal, QueryError> {
        self.skip_spaces();
        let quoted = self.peek() == Some(b'"');
        let value = self.value(start, b"),;")?;
        if !quoted && matches!(&value, Literal::Text(text) if text.is_empty()) {
            return Err(self.condition_error("query.filter_empty_item", start));
        }
        Ok(value)
    }

    /// A quoted or raw value, ending before one of `stops` (or the end).
    fn value(&mut self, start: usize, stops: &[u8]) -> Result<Literal, QueryError> {
        self.skip_spaces();
        if self.peek() == Some(b'"') {
            let text = self.quoted(start)?;
            self.skip_spaces();
            if self.peek().is_some_and(|b| !stops.contains(&b)) {
                return Err(self.condition_error("query.filter_after_quote", start));
            }
            return Ok(Literal::Text(text));
        }
        let end = self.find(stops);
        let raw = self.input.get(self.pos..end).unwrap_or("").trim();
        self.pos = end;
        Ok(if raw.eq_ignore_ascii_case("null") {
            Literal::Null
        } else {
            Literal::Text(raw.to_string())
        })
    }

    /// The text of a quoted value, the current byte being its opening quote.
    fn quoted(&mut self, start: usize) -> Result<String, QueryError> {
        let mut text = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += offset + 1;
                    return Ok(text);
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('"' | '\\'))) => text.push(escaped),
                    _ => return Err(self.condition_error("query.filter_escape", start)),
                },
                other => text.push(other),
            }
        }
        Err(self.condition_error("query.filter_unterminated", start))
    }

    /// An error quoting the condition that starts at `start`, up to its likely end.
    fn condition_error(&self, key: &'static str, start: usize) -> QueryError {
        let rest = self.input.get(start..).unwrap_or("");
        let end = rest.find([',', ')']).unwrap_or(rest.len());
        let condition = rest.get(..end).unwrap_or(rest).trim();
        error(key).with("condition", echo(condition))
    }
}

/// `ident ( "." ident )*`, or `None`.
fn parse_path(text: &str) -> Option<Path> {
    let segments: Vec<String> = text.split('.').map(str::to_string).collect();
    let valid = segments.iter().all(|segment| {
        !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    valid.then_some(Path(segments))
}

impl fmt::Display for FilterExpr {
    /// Prints `,and,` and `,or,` explicitly and parenthesises every nested group, so the text
    /// reads back as the same tree whatever the precedence rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (parts, connector) = match self {
            FilterExpr::Cond(condition) => return condition.fmt(f),
            FilterExpr::All(parts) => (parts, ",and,"),
            FilterExpr::Any(parts) => (parts, ",or,"),
        };
        for (index, part) in parts.iter().enumerate() {
            if index > 0 {
                f.write_str(connector)?;
            }
            match part {
                FilterExpr::Cond(_) => part.fmt(f)?,
                group => write!(f, "({group})")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for RawCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.path)?;
        if self.negated {
            f.write_str("not:")?;
        }
        write!(f, "{}:", self.op.as_str())?;
        for (index, value) in self.values.iter().enumerate() {
            if index > 0 {
                f.write_str(";")?;
            }
            value.fmt(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for Literal {
    /// Raw when that reads back the same, quoted otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Text(text) if needs_quotes(text) => {
                f.write_str("\"")?;
                for c in text.chars() {
                    if matches!(c, '"' | '\\') {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
            Literal::Text(text) => f.write_str(text),
        }
    }
}

fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text.eq_ignore_ascii_case("null")
        || text.contains([',', '(', ')', ';', '"', '\\'])
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;

    fn cond(path: &str, negated: bool, op: Op, values: &[Literal]) -> FilterExpr {
        FilterExpr::Cond(RawCondition {
            path: Path(path.split('.').map(str::to_string).collect()),
            negated,
            op,
            values: values.to_vec(),
        })
    }

    fn text(value: &str) -> Literal {
        Literal::Text(value.to_string())
    }

    fn eq(path: &str, value: &str) -> FilterExpr {
        cond(path, false, Op::Eq, &[text(value)])
    }

    fn parsed(input: &str) -> FilterExpr {
        match parse_filter(input) {
            Ok(expr) => expr,
            Err(QueryError(message)) => panic!("{input}: {}", message.render(Locale::En)),
        }
    }

    fn error_key(input: &str) -> &'static str {
        match parse_filter(input) {
            Err(QueryError(message)) => message.key,
            Ok(expr) => panic!("{input} parsed as {expr:?}"),
        }
    }

    fn error_text(input: &str) -> String {
        match parse_filter(input) {
            Err(QueryError(message)) => message.render(Locale::En),
            Ok(expr) => panic!("{input} parsed as {expr:?}"),
        }
    }

    #[test]
    fn reads_a_single_condition() {
        assert_eq!(parsed("name:eq:Example"), eq("name", "Example"));
        assert_eq!(
            parsed("price:gte:500"),
            cond("price", false, Op::Gte, &[text("500")])
        );
        assert_eq!(
            parsed("status:not:eq:active"),
            cond("status", true, Op::Eq, &[text("active")])
        );
        assert_eq!(
            parsed("Status:NOT:EQ:active"),
            cond("Status", true, Op::Eq, &[text("active")])
        );
        assert_eq!(
            parsed("field_values.12:starts_with:ab"),
            cond("field_values.12", false, Op::StartsWith, &[text("ab")])
        );
    }

    #[test]
    fn reads_every_operator() {
        for op in Op::ALL {
            let expr = parsed(&format!("x:{}:1", op.as_str()));
            assert_eq!(expr, cond("x", false, op, &[text("1")]));
        }
    }

    #[test]
    fn in_splits_on_semicolons_with_quoted_elements() {
        assert_eq!(
            parsed("customer_id:in:28;29;30"),
            cond(
                "customer_id",
                false,
                Op::In,
                &[text("28"), text("29"), text("30")]
            )
        );
        assert_eq!(
            parsed(r#"name:in:"a;b";c;"d,e""#),
            cond(
                "name",
                false,
                Op::In,
                &[text("a;b"), text("c"), text("d,e")]
            )
        );
        assert_eq!(
            parsed("name:eq:a;b"),
            eq("name", "a;b"),
            "outside in, a semicolon is text"
        );
    }

    #[test]
    fn quoted_values_hold_anything() {
        assert_eq!(
            parsed(r#"(company.name:eq:"Example, Inc. (NL): \"best\" \\o/")"#),
            eq("company.name", r#"Example, Inc. (NL): "best" \o/"#)
        );
        assert_eq!(parsed(r#"name:eq:"  padded ""#), eq("name", "  padded "));
        assert_eq!(parsed(r#"name:eq:"""#), eq("name", ""));
        assert_eq!(
            parsed("name:eq:Zoë Ünïcode 🎉"),
            eq("name", "Zoë Ünïcode 🎉")
        );
    }

    #[test]
    fn raw_values_run_to_a_comma_or_parenthesis() {
        assert_eq!(
            parsed("created_at:gt:2024-01-01T10:00:00Z"),
            cond("created_at", false, Op::Gt, &[text("2024-01-01T10:00:00Z")])
        );
        assert_eq!(parsed("name:eq: spaced out "), eq("name", "spaced out"));
        assert_eq!(parsed("name:eq:"), eq("name", ""));
        assert_eq!(parsed(r#"name:eq:a"b"#), eq("name", r#"a"b"#));
    }

    #[test]
    fn null_is_a_word_and_quoted_null_is_text() {
        assert_eq!(
            parsed("email:eq:null"),
            cond("email", false, Op::Eq, &[Literal::Null])
        );
        assert_eq!(
            parsed("email:not:eq:NULL"),
            cond("email", true, Op::Eq, &[Literal::Null])
        );
        assert_eq!(parsed(r#"email:eq:"null""#), eq("email", "null"));
    }

    #[test]
    fn bare_commas_and_and_bind_tighter_than_or() {
        let (a, b, c) = (eq("a", "1"), eq("b", "2"), eq("c", "3"));
        let all = FilterExpr::All(vec![a.clone(), b.clone()]);
        assert_eq!(parsed("a:eq:1,b:eq:2"), all);
        assert_eq!(parsed("a:eq:1,AND,b:eq:2"), all);
        assert_eq!(parsed("a:eq:1 , and , b:eq:2"), all);
        assert_eq!(
            parsed("a:eq:1,or,b:eq:2,and,c:eq:3"),
            FilterExpr::Any(vec![a.clone(), FilterExpr::All(vec![b.clone(), c.clone()])])
        );
        assert_eq!(
            parsed("a:eq:1,b:eq:2,Or,c:eq:3"),
            FilterExpr::Any(vec![FilterExpr::All(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            parsed("a:eq:1,and,(b:eq:2,or,c:eq:3)"),
            FilterExpr::All(vec![a.clone(), FilterExpr::Any(vec![b, c])])
        );
        assert_eq!(parsed("((a:eq:1))"), a);
    }

    #[test]
    fn redundant_groups_flatten() {
        assert_eq!(
            parsed("(a:eq:1,b:eq:2),c:eq:3"),
            FilterExpr::All(vec![eq("a", "1"), eq("b", "2"), eq("c", "3")])
        );
        assert_eq!(
            parsed("a:eq:1,or,(b:eq:2,or,c:eq:3)"),
            FilterExpr::Any(vec![eq("a", "1"), eq("b", "2"), eq("c", "3")])
        );
    }

    #[test]
    fn a_field_may_be_called_and() {
        assert_eq!(
            parsed("a:eq:1,and:eq:2"),
            FilterExpr::All(vec![eq("a", "1"), eq("and", "2")])
        );
        assert_eq!(
            parsed("a:eq:1,or:eq:2"),
            FilterExpr::All(vec![eq("a", "1"), eq("or", "2")])
        );
    }

    #[test]
    fn documented_examples_parse() {
        for example in [
            "name:eq:Example",
            "price:gte:500",
            "(price:gt:100,and,category:eq:Electronics)",
            "field:eq:value,and,(field2:gt:5,or,field3:lt:10)",
            "field:eq:value,another_field:gt:10",
            "(company.name:eq:\"Example Company\")",
            "name:like:john",
            "email:ends_with:@example.com",
            "status:in:active;pending;suspended",
            "status:not:eq:active",
            "customer_id:in:28;29;30",
        ] {
            let expr = parsed(example);
            assert_eq!(parsed(&expr.to_string()), expr, "{example}");
        }
    }

    #[test]
    fn prints_readably() {
        let expr = parsed(r#"a:eq:1,or,b:not:in:x;"y;z";null,c:like:"null""#);
        assert_eq!(
            expr.to_string(),
            r#"a:eq:1,or,(b:not:in:x;"y;z";null,and,c:like:"null")"#
        );
    }

    #[test]
    fn malformed_filters_are_named() {
        for (input, key) in [
            ("", "query.filter_empty"),
            ("  ", "query.filter_empty"),
            ("name", "query.filter_incomplete"),
            ("name:eq", "query.filter_incomplete"),
            ("name:not", "query.filter_incomplete"),
            ("name:not:eq", "query.filter_incomplete"),
            ("(name)", "query.filter_incomplete"),
            ("name:eqq:x", "query.filter_operator"),
            ("name:not:not:eq:x", "query.filter_operator"),
            ("na me:eq:x", "query.filter_bad_field"),
            ("a..b:eq:x", "query.filter_bad_field"),
            (".a:eq:x", "query.filter_bad_field"),
            (":eq:x", "query.filter_bad_field"),
            ("naam:eq:x,", "query.filter_expected_condition_at_end"),
            ("a:eq:1,,b:eq:2", "query.filter_expected_condition"),
            ("()", "query.filter_expected_condition"),
            ("a:eq:1,and", "query.filter_dangling"),
            ("(a:eq:1,or)", "query.filter_dangling"),
            ("(a:eq:1", "query.filter_unclosed"),
            ("((a:eq:1)", "query.filter_unclosed"),
            ("a:eq:1)", "query.filter_unopened"),
            ("(a:eq:1)x", "query.filter_unexpected"),
            (r#"a:eq:"open"#, "query.filter_unterminated"),
            (r#"a:eq:""#, "query.filter_unterminated"),
            (r#"a:eq:"x\"#, "query.filter_escape"),
            (r#"a:eq:"x\n""#, "query.filter_escape"),
            (r#"a:eq:"x"y"#, "query.filter_after_quote"),
            (r#"a:in:"x"y;z"#, "query.filter_after_quote"),
        ] {
            assert_eq!(error_key(input), key, "{input}");
        }
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            error_text("name:eqq:x"),
            "The filter parameter has an unknown operator 'eqq' in 'name:eqq:x'; use one of \
             eq, gt, lt, gte, lte, like, contains, starts_with, ends_with, in."
        );
        assert_eq!(
            error_text("a:eq:1,and"),
            "The filter parameter has 'and' without a condition after it."
        );
    }

    #[test]
    fn bounds_hold() {
        let deep_ok = format!("{}a:eq:1{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(parsed(&deep_ok), eq("a", "1"));
        let too_deep = format!("{}a:eq:1{}", "(".repeat(33), ")".repeat(33));
        assert_eq!(error_key(&too_deep), "query.filter_too_deep");
        let very_deep = "(".repeat(MAX_FILTER_BYTES);
        assert_eq!(error_key(&very_deep), "query.filter_too_deep");

        let hundred = vec!["a:eq:1"; 100].join(",");
        assert_eq!(parsed(&hundred).conditions(), 100);
        let too_many = vec!["a:eq:1"; 101].join(",");
        assert_eq!(error_key(&too_many), "query.filter_too_many");

        let long = format!("a:eq:{}", "x".repeat(MAX_FILTER_BYTES));
        assert_eq!(error_key(&long), "query.filter_too_long");
    }

    #[test]
    fn hostile_text_is_an_error_not_a_panic() {
        for input in [
            "\"",
            "\\",
            "(",
            ")",
            ",",
            ":",
            "::::",
            "\"\"\"",
            "é:eq:x",
            "a:eq:\"é",
            "a:in:;;",
            "a:eq:\u{0}",
            "🎉",
            "(((",
            ")))",
            ",and,",
            "and,",
            "a:in:\"",
        ] {
            if let Err(QueryError(message)) = parse_filter(input) {
                assert!(!message.render(Locale::Nl).is_empty());
            }
        }
    }
}
