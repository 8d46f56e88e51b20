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

/// `"table"."column"` compared and sorted by code point, as SQLite's default collation does;
/// `None` where the plain column already does.
pub fn code_point_text(backend: Backend, quoted_column: &str) -> Option<String> {
    match backend {
        Backend::Postgres => Some(format!("{quoted_column} COLLATE \"C\"")),
        Backend::Sqlite => None,
    }
}

/// A case-insensitive `LIKE` with `\` as its escape. PostgreSQL's `ILIKE` takes backslash by
/// default (an explicit `ESCAPE` does not render with it); SQLite's `LIKE` ignores ASCII case.
pub fn like_ignoring_case(
    backend: Backend,
    target: sea_query::Expr,
    pattern: String,
) -> sea_query::Expr {
    use sea_query::extension::postgres::PgExpr;
    use sea_query::{ExprTrait, LikeExpr};
    match backend {
        Backend::Postgres => target.ilike(LikeExpr::new(pattern)),
        Backend::Sqlite => target.like(LikeExpr::new(pattern).escape('\\')),
    }
}

/// The type a text is cast to for a numeric comparison.
pub fn float_type(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "DOUBLE PRECISION",
        Backend::Sqlite => "REAL",
    }
}

/// Serialises the transactions that take the lock `key` until they commit. PostgreSQL needs
/// it where a check and a write must not interleave; SQLite runs one write at a time anyway, so
/// there it is nothing.
pub async fn lock_until_commit(tx: &mut super::Tx, key: i64) -> Result<(), crate::error::Error> {
    if tx.backend() == Backend::Postgres {
        tx.execute(&super::Raw::new(
            "SELECT pg_advisory_xact_lock(?)",
            vec![key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// What a claiming `SELECT` ends with so that instances sharing the database claim different
/// rows of `table` (PostgreSQL); SQLite has one writer, which already claims alone.
pub fn skip_locked(backend: Backend, table: &str) -> String {
    match backend {
        Backend::Postgres => format!(" FOR UPDATE OF {table} SKIP LOCKED"),
        Backend::Sqlite => String::new(),
    }
}
