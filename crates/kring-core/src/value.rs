//! A typed scalar: what validation produces, what storage binds and decodes.

use chrono::{DateTime, NaiveDate, Utc};

/// One scalar value of a column, already checked against the column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
}

impl Value {
    /// The JSON form of this value, in Kring's wire formats.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => (*b).into(),
            Value::Text(s) => s.clone().into(),
            Value::Timestamp(t) => crate::time::format_timestamp(t).into(),
            Value::Date(d) => crate::time::format_date(d).into(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}
