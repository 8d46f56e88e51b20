//! The tenant of a request: the company every statement is scoped to, and the acting user.
//! Named apart from OAuth's scopes, which are what a token may do, not whose data it sees.

/// Who is asking: the company whose records a statement may touch, and the acting user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant {
    pub company_id: i64,
    pub user_id: i64,
}
