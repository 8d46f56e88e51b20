//! The permissions the registry implies and the built-in roles of every company.

use chrono::Utc;

use crate::db::{Db, Raw, Tx};
use crate::error::Error;
use crate::ledger::counters::adjust_count;
use crate::registry::REGISTRY;
use crate::tenant::Tenant;

pub const OWNER_ROLE: &str = "company_owner";
pub const VIEWER_ROLE: &str = "company_viewer";

/// Every permission the registry implies, and the built-in roles' grants, brought up to date.
/// Runs after migrations, so a new resource's permissions reach existing companies.
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

/// Owners get every permission, viewers every `.view` permission; `company` limits it to one
/// company's roles.
async fn grant_builtin_permissions(tx: &mut Tx, company: Option<i64>) -> Result<(), Error> {
    let company = company.unwrap_or(-1);
    for (role, pattern) in [(OWNER_ROLE, "%"), (VIEWER_ROLE, "%.view")] {
        tx.execute(&Raw::new(
            "INSERT INTO role_permissions (role_id, permission_id) \
             SELECT r.id, p.id FROM roles r, permissions p \
             WHERE r.name = ? AND p.name LIKE ? AND (? = -1 OR r.company_id = ?) \
             ON CONFLICT (role_id, permission_id) DO NOTHING",
            vec![role.into(), pattern.into(), company.into(), company.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Creates the built-in roles of a new company with their permissions.
pub async fn create_builtin_roles(tx: &mut Tx, company_id: i64) -> Result<(), Error> {
    let now = Utc::now();
    for role in [OWNER_ROLE, VIEWER_ROLE] {
        tx.execute(&Raw::new(
            "INSERT INTO roles (company_id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            vec![company_id.into(), role.into(), now.into(), now.into()],
        ))
        .await?;
    }
    let tenant = Tenant {
        company_id,
        user_id: 0,
    };
    adjust_count(tx, &crate::registry::defs::role::ROLE, tenant, 2).await?;
    grant_builtin_permissions(tx, Some(company_id)).await
}
