//! The query parameters as written, before anything is looked up in a resource.
//!
//! `with`, `show`, `count` and `order_by` are lists and accept every form Cirqll documents,
//! mixed and repeated: `with=a,b`, `with[]=a&with[]=b` and PHP's indexed `with[0]=a`. Each
//! value is split on commas; an empty item (`with=a,,b`, `with=`) is an error, because it is
//! always a client bug. `filter` is one text, parsed by [`crate::query::filter`].

use std::fmt;

use super::filter::{self, FilterExpr};
use super::{QueryError, echo, single};

/// A dotted path as written (`contacts.user`, `company.name`, `field_values.12`): one or more
/// non-empty segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<String>);

impl Path {
    /// Splits `raw` on dots; `param` names the parameter in the error for an empty segment.
    pub fn parse(param: &'static str, raw: &str) -> Result<Path, QueryError> {
        let segments: Vec<String> = raw.split('.').map(str::to_string).collect();
        if segments.iter().any(String::is_empty) {
            return Err(QueryError::new("query.empty_segment", param).with("path", echo(raw)));
        }
        Ok(Path(segments))
    }

    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// A sort direction; ascending when an `order_by` item names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        }
    }

    /// `asc` or `desc`, in any case.
    pub fn parse(raw: &str) -> Option<Direction> {
        [Direction::Asc, Direction::Desc]
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(raw))
    }
}

/// One `order_by` item: `field`, `field:asc` or `field:desc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub field: String,
    pub direction: Direction,
}

impl OrderItem {
    pub fn parse(raw: &str) -> Result<OrderItem, QueryError> {
        let (field, direction) = match raw.split_once(':') {
            None => (raw, Direction::Asc),
            Some((field, written)) => {
                let direction = Direction::parse(written.trim()).ok_or_else(|| {
                    QueryError::new("query.order_direction", "order_by")
                        .with("direction", echo(written))
                        .with("item", echo(raw))
                })?;
                (field.trim(), direction)
            }
        };
        if field.is_empty() {
            return Err(QueryError::new("query.empty_item", "order_by").with("value", echo(raw)));
        }
        Ok(OrderItem {
            field: field.to_string(),
            direction,
        })
    }
}

impl fmt::Display for OrderItem {
    /// Always with its direction, so the printed form does not depend on the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.field, self.direction.as_str())
    }
}

/// The items of a list parameter; printed in the comma form (`a,b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<T> List<T> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T: fmt::Display> fmt::Display for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, item) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            item.fmt(f)?;
        }
        Ok(())
    }
}

/// Every query parameter Kring reads, as written. Pagination is read by
/// [`Page`](super::Page) on its own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuerySyntax {
    pub with: List<Path>,
    pub show: List<Path>,
    pub count: List<Path>,
    pub order_by: List<OrderItem>,
    pub filter: Option<FilterExpr>,
}

impl QuerySyntax {
    /// Reads the parameters from decoded query pairs; the first problem found is the error.
    pub fn parse(pairs: &[(String, String)]) -> Result<QuerySyntax, QueryError> {
        Ok(QuerySyntax {
            with: list(pairs, "with", |raw| Path::parse("with", raw))?,
            show: list(pairs, "show", |raw| Path::parse("show", raw))?,
            count: list(pairs, "count", |raw| Path::parse("count", raw))?,
            order_by: list(pairs, "order_by", OrderItem::parse)?,
            filter: filter_param(pairs)?.map(filter::parse_filter).transpose()?,
        })
    }
}

/// The one `filter` text. `filter[]=…` or `filter[name]=…` (spatie's style) is refused rather
/// than ignored: ignoring it would silently return unfiltered data.
fn filter_param(pairs: &[(String, String)]) -> Result<Option<&str>, QueryError> {
    if pairs.iter().any(|(key, _)| is_bracketed(key, "filter")) {
        return Err(QueryError::new("query.not_a_list", "filter"));
    }
    Ok(single(pairs, &["filter"])?.map(|(_, raw)| raw))
}

/// Parses every item of list parameter `name`, in the order given.
fn list<T>(
    pairs: &[(String, String)],
    name: &'static str,
    parse_item: impl Fn(&str) -> Result<T, QueryError>,
) -> Result<List<T>, QueryError> {
    let mut items = Vec::new();
    for (_, value) in pairs.iter().filter(|(key, _)| is_list_key(key, name)) {
        for item in value.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(QueryError::new("query.empty_item", name).with("value", echo(value)));
            }
            items.push(parse_item(item)?);
        }
    }
    Ok(List(items))
}

/// `name`, `name[]` or `name[<digits>]`.
fn is_list_key(key: &str, name: &str) -> bool {
    match key.strip_prefix(name) {
        Some("") | Some("[]") => true,
        Some(rest) => rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|index| index.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// `name[…]`, whatever is inside the brackets.
fn is_bracketed(key: &str, name: &str) -> bool {
    key.strip_prefix(name)
        .is_some_and(|rest| rest.starts_with('[') && rest.ends_with(']'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_query_string;

    fn syntax(query: &str) -> Result<QuerySyntax, QueryError> {
        QuerySyntax::parse(&parse_query_string(query))
    }

    fn key_of(result: Result<QuerySyntax, QueryError>) -> &'static str {
        match result {
            Err(QueryError(message)) => message.key,
            Ok(parsed) => panic!("expected an error, got {parsed:?}"),
        }
    }

    #[test]
    fn lists_accept_every_form_mixed_and_repeated() {
        let parsed = syntax("with=a,b.c&with[]=d&with%5B%5D=e&with[3]=f,g&with=h").ok();
        let with = parsed.map(|p| p.with.to_string());
        assert_eq!(with.as_deref(), Some("a,b.c,d,e,f,g,h"));
    }

    #[test]
    fn other_bracket_keys_are_not_the_list() {
        let parsed = syntax("with[x]=a&withs=b&show[]=name").ok();
        assert_eq!(parsed.as_ref().map(|p| p.with.is_empty()), Some(true));
        assert_eq!(parsed.map(|p| p.show.to_string()).as_deref(), Some("name"));
    }

    #[test]
    fn items_are_trimmed_and_empty_items_refused() {
        let parsed = syntax("show=+name+,+email").ok();
        assert_eq!(
            parsed.map(|p| p.show.to_string()).as_deref(),
            Some("name,email")
        );
        for bad in [
            "with=",
            "with[]=",
            "with=a,,b",
            "with=a,",
            "count=,a",
            "order_by=",
        ] {
            assert_eq!(key_of(syntax(bad)), "query.empty_item", "{bad}");
        }
        for bad in ["with=a..b", "show=.name", "with=a."] {
            assert_eq!(key_of(syntax(bad)), "query.empty_segment", "{bad}");
        }
    }

    #[test]
    fn order_items_default_to_ascending() {
        let parsed = syntax("order_by[]=id:desc&order_by[]=name&order_by[]=price+:+ASC").ok();
        let order = parsed.map(|p| p.order_by.to_string());
        assert_eq!(order.as_deref(), Some("id:desc,name:asc,price:asc"));
        assert_eq!(key_of(syntax("order_by=name:up")), "query.order_direction");
        assert_eq!(key_of(syntax("order_by=name:")), "query.order_direction");
        assert_eq!(key_of(syntax("order_by=:desc")), "query.empty_item");
    }

    #[test]
    fn filter_is_one_text() {
        assert_eq!(
            key_of(syntax("filter=a:eq:1&filter=b:eq:2")),
            "query.repeated"
        );
        assert_eq!(key_of(syntax("filter[]=a:eq:1")), "query.not_a_list");
        assert_eq!(key_of(syntax("filter[name]=x")), "query.not_a_list");
        assert!(syntax("filters=zzz&filter=a:eq:1").is_ok_and(|p| p.filter.is_some()));
    }

    #[test]
    fn printed_lists_parse_back_to_the_same_syntax() {
        let parsed = syntax("with[]=a.b&with=c&show=name,company.name&count=x&order_by=id:desc,n");
        let Ok(parsed) = parsed else {
            panic!("{parsed:?}")
        };
        let printed = vec![
            ("with".to_string(), parsed.with.to_string()),
            ("show".to_string(), parsed.show.to_string()),
            ("count".to_string(), parsed.count.to_string()),
            ("order_by".to_string(), parsed.order_by.to_string()),
        ];
        assert_eq!(QuerySyntax::parse(&printed), Ok(parsed));
    }
}
