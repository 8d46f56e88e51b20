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

/// An aggregate of a group's text `expression` as a JSON list in `order`, as text (`NULL` for
/// no rows).
pub fn json_list(backend: Backend, expression: &str, order: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_group_array({expression} ORDER BY {order})"),
        Backend::Postgres => format!("CAST(json_agg({expression} ORDER BY {order}) AS TEXT)"),
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

/// `"table"."column"` as text is sorted: ignoring ASCII case, as a Laravel app on MySQL's
/// default collation sorts ("Acme bv" before "Acme Corp"), and by code point otherwise, the
/// same on both engines (SQLite's `NOCASE` folds ASCII only; so does `lower` under `"C"`).
pub fn folded_text(backend: Backend, quoted_column: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{quoted_column} COLLATE NOCASE"),
        Backend::Postgres => format!("lower({quoted_column} COLLATE \"C\") COLLATE \"C\""),
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

/// Whether `target` holds `needle` as it is: case and `%` included (SQLite `instr`,
/// PostgreSQL `strpos`; `LIKE` differs in case between the two).
pub fn holds_text(backend: Backend, target: sea_query::Expr, needle: String) -> sea_query::Expr {
    use sea_query::{ExprTrait, Func};
    let (name, args) = match backend {
        Backend::Sqlite => ("instr", [target, sea_query::Expr::val(needle)]),
        Backend::Postgres => ("strpos", [target, sea_query::Expr::val(needle)]),
    };
    sea_query::Expr::from(Func::cust(name).args(args)).gt(0)
}

/// `column` as an operand no index can serve, so that a condition on it never chooses how a
/// join is driven. SQLite: `column + 0`. PostgreSQL estimates such an expression as very
/// selective and builds nested loops over it (1.1 s instead of 44 ms), and it has the
/// statistics to need no such hint: the column stays as it is.
pub fn unindexed(backend: Backend, column: sea_query::Expr) -> sea_query::Expr {
    use sea_query::ExprTrait;
    match backend {
        Backend::Sqlite => column.add(0),
        Backend::Postgres => column,
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
    // Held until commit already: taking it again would be one more round trip for nothing.
    if tx.backend() == Backend::Postgres && tx.first_lock_of(key) {
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

/// The type tokens a portable migration is written with, and what each engine reads for them.
const TYPE_TOKENS: &[(&str, &str, &str)] = &[
    // (token, SQLite, PostgreSQL)
    (
        "id",
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    ("int", "INTEGER", "BIGINT"),
    ("float", "REAL", "DOUBLE PRECISION"),
    ("bool", "BOOLEAN", "BOOLEAN"),
    ("true", "1", "TRUE"),
    ("false", "0", "FALSE"),
    ("text", "TEXT", "TEXT"),
    ("json", "TEXT", "JSON"),
    // SQLite keeps timestamps and dates as fixed-width text (see `docs/decisions.md`).
    ("timestamp", "TEXT", "TIMESTAMPTZ"),
    ("date", "TEXT", "DATE"),
];

/// A portable migration's SQL for `backend`: every `{token}` of [`TYPE_TOKENS`] replaced by
/// the engine's spelling. An unknown token, or a brace that opens no token, is an error naming
/// it, so a typo fails the build's tests rather than a deployment's migration.
pub fn render_migration(sql: &str, backend: Backend) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("an unclosed '{{' before: {}", truncated(after)))?;
        let token = &after[..end];
        match token.strip_prefix("folded:") {
            Some(column) => out.push_str(&folded_index_key(backend, column)?),
            None => {
                let (_, sqlite, postgres) = TYPE_TOKENS
                    .iter()
                    .find(|(name, _, _)| *name == token)
                    .ok_or_else(|| format!("unknown type token {{{token}}}"))?;
                out.push_str(match backend {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                });
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `{folded:column}`: an index key in the order [`folded_text`] sorts by, NULLs first as an
/// ascending order puts them (SQLite always does), so an index serves `ORDER BY` on a text
/// column either way round. PostgreSQL indexes an expression in parentheses.
fn folded_index_key(backend: Backend, column: &str) -> Result<String, String> {
    let plain = !column.is_empty()
        && column
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain {
        return Err(format!("{{folded:{column}}} does not name a column"));
    }
    Ok(match backend {
        Backend::Sqlite => folded_text(backend, column),
        Backend::Postgres => format!("({}) NULLS FIRST", folded_text(backend, column)),
    })
}

fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "CREATE TABLE products (\n    id {id},\n    company_id {int} NOT NULL,\n    \
        price {float},\n    active {bool} NOT NULL DEFAULT {true},\n    archived {bool} NOT NULL \
        DEFAULT {false},\n    data {json},\n    due {date},\n    created_at {timestamp} NOT NULL\n);";

    #[test]
    fn folded_keys_render_the_order_text_sorts_by() {
        let sql = "CREATE INDEX n ON t (company_id, {folded:name}, id);";
        assert_eq!(
            render_migration(sql, Backend::Sqlite).unwrap(),
            "CREATE INDEX n ON t (company_id, name COLLATE NOCASE, id);"
        );
        assert_eq!(
            render_migration(sql, Backend::Postgres).unwrap(),
            "CREATE INDEX n ON t (company_id, (lower(name COLLATE \"C\") COLLATE \"C\") NULLS FIRST, id);"
        );
        assert!(render_migration("{folded:}", Backend::Sqlite).is_err());
        assert!(render_migration("{folded:a b}", Backend::Postgres).is_err());
    }

    #[test]
    fn tokens_render_each_engines_types() {
        let sqlite = render_migration(TABLE, Backend::Sqlite).unwrap();
        assert_eq!(
            sqlite,
            "CREATE TABLE products (\n    id INTEGER PRIMARY KEY AUTOINCREMENT,\n    company_id \
             INTEGER NOT NULL,\n    price REAL,\n    active BOOLEAN NOT NULL DEFAULT 1,\n    \
             archived BOOLEAN NOT NULL DEFAULT 0,\n    data TEXT,\n    due TEXT,\n    created_at \
             TEXT NOT NULL\n);"
        );
        let postgres = render_migration(TABLE, Backend::Postgres).unwrap();
        assert_eq!(
            postgres,
            "CREATE TABLE products (\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY \
             KEY,\n    company_id BIGINT NOT NULL,\n    price DOUBLE PRECISION,\n    active \
             BOOLEAN NOT NULL DEFAULT TRUE,\n    archived BOOLEAN NOT NULL DEFAULT FALSE,\n    \
             data JSON,\n    due DATE,\n    created_at TIMESTAMPTZ NOT NULL\n);"
        );
    }

    #[test]
    fn sql_without_tokens_is_unchanged_and_mistakes_are_named() {
        let plain = "CREATE INDEX x ON t (a, b);";
        assert_eq!(render_migration(plain, Backend::Postgres).unwrap(), plain);
        assert_eq!(
            render_migration("a {integer} b", Backend::Sqlite).unwrap_err(),
            "unknown type token {integer}"
        );
        assert!(
            render_migration("a {int", Backend::Sqlite)
                .unwrap_err()
                .starts_with("an unclosed '{'")
        );
    }
}
