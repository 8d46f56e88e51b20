//! The permissions the registry implies and the built-in roles of every company.

use chrono::Utc;

use crate::db::{Db, Raw, Tx};
use crate::error::Error;
use crate::registry::REGISTRY;

pub const OWNER_ROLE: &str = "company_owner";
pub const VIEWER_ROLE: &str = "company_viewer";

/// The built-in roles: their marker (`roles.builtin`), the name a new company's copy gets,
/// and the permissions they hold (as a `LIKE` pattern).
const BUILTIN: [(&str, &str, &str); 2] = [
    ("owner", OWNER_ROLE, "%"),
    ("viewer", VIEWER_ROLE, "%.view"),
];

/// The marker of the owner role, which always holds every permission.
pub const OWNER_MARKER: &str = "owner";

/// Every permission the registry implies, and the built-in roles' grants, brought up to date.
/// Runs after migrations, so a new resource's permissions reach existing companies. Each role
/// gets only permissions newer than the last it was granted: one that a company took away
/// from its viewers stays away.
pub async fn sync_permissions(db: &Db) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    let now = Utc::now();
    for def in REGISTRY {
        for action in def.actions() {
            tx.execute(&Raw::new(
                "INSERT INTO permissions (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                vec![def.permission(*action).into(), now.into()],
            ))
            .await?;
        }
    }
    grant_builtin_permissions(&mut tx, None).await?;
    tx.commit().await
}

/// Grants the built-in roles the permissions they are due and that are new to them;
/// `company` limits it to one company's roles.
async fn grant_builtin_permissions(tx: &mut Tx, company: Option<i64>) -> Result<(), Error> {
    let company = company.unwrap_or(-1);
    for (marker, _, pattern) in BUILTIN {
        tx.execute(&Raw::new(
            "INSERT INTO role_permissions (role_id, permission_id) \
             SELECT r.id, p.id FROM roles r, permissions p \
             WHERE r.builtin = ? AND p.name LIKE ? AND p.id > r.granted_through \
             AND (? = -1 OR r.company_id = ?) \
             ON CONFLICT (role_id, permission_id) DO NOTHING",
            vec![
                marker.into(),
                pattern.into(),
                company.into(),
                company.into(),
            ],
        ))
        .await?;
        // Only the roles that were behind: a start that grants nothing writes nothing (every
        // written role moves its company's data version).
        tx.execute(&Raw::new(
            "UPDATE roles SET granted_through = (SELECT COALESCE(MAX(id), 0) FROM permissions) \
             WHERE builtin = ? AND (? = -1 OR company_id = ?) \
             AND granted_through < (SELECT COALESCE(MAX(id), 0) FROM permissions)",
            vec![marker.into(), company.into(), company.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Creates the built-in roles of a new company with their permissions.
pub async fn create_builtin_roles(tx: &mut Tx, company_id: i64) -> Result<(), Error> {
    let now = Utc::now();
    for (marker, name, _) in BUILTIN {
        tx.execute(&Raw::new(
            "INSERT INTO roles (company_id, name, builtin, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?)",
            vec![
                company_id.into(),
                name.into(),
                marker.into(),
                now.into(),
                now.into(),
            ],
        ))
        .await?;
    }
    grant_builtin_permissions(tx, Some(company_id)).await
}
