//! Every piece of SQL that differs between the two engines, in one place. Statements elsewhere
//! are portable, or built by sea-query for the engine at hand, and take their differing
//! fragments from here.

use super::Backend;

/// An aggregate joining the text `expression` of a group's rows with spaces (`NULL` for none).
pub fn joined_names(backend: Backend, expression: &str) -> String {
    match backend {
        Backend::Sqlite => format!("group_concat({expression}, ' ')"),
        Backend::Postgres => format!("string_agg({expression}, ' ')"),
    }
}
