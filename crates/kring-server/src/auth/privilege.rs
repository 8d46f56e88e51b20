//! Grants never above the grantor, and a company that keeps its owner (security plan §3).
//!
//! The rules follow from the registry, not from resource names: a column that references
//! `roles` gives its record that role, a link set to `permission` gives a role those
//! permissions, a link set names records the caller must be able to read, and a password
//! column of a record that can be a caller's own is a login. They
//! run inside the write's transaction, before the write, so they judge the state it changes.

use std::collections::BTreeSet;

use kring_core::i18n::Message;
use kring_core::schema::ColumnType;
use kring_core::validate::{ValidationErrors, coerce};
use serde_json::{Map, Value as Json};

use super::bootstrap::OWNER_MARKER;
use super::principal::Principal;
use crate::crypto::verify_password;
use crate::db::{Raw, Tx};
use crate::error::Error;
use crate::registry::{Action, ResourceDef, Routes, find};
use crate::tenant::Tenant;

/// The body key that proves a caller knows the password it replaces.
const CURRENT_PASSWORD: &str = "current_password";

/// Refuses a create (`id` is `None`) or an update of `def` that would give more than the
/// caller holds, change another user's password without knowing it, or leave the company
/// without an owner.
pub async fn check_write(
    tx: &mut Tx,
    principal: &Principal,
    def: &ResourceDef,
    id: Option<i64>,
    body: &Map<String, Json>,
) -> Result<(), Error> {
    let tenant = principal.tenant;
    for column in def.columns.iter().filter(|c| c.references == Some("roles")) {
        let Some(role) = body.get(column.name).and_then(as_id) else {
            continue;
        };
        refuse_missing(
            principal,
            &role_permissions(tx, tenant, role).await?,
            |missing| Message::new("privilege.role_above_grantor").with("missing", missing),
        )?;
        if let Some(id) = id {
            keep_an_owner(tx, def, tenant, id, Some(role)).await?;
        }
    }
    for link in def.links.iter().filter(|l| body.contains_key(l.key)) {
        let Some(relation) = def.relation(link.relation) else {
            continue;
        };
        // Linking names records of the target and learns which ids exist: it needs the
        // right to read them (permissions have no routes; their grant is checked below).
        if let Some(target) = find(relation.target).filter(|t| t.routes != Routes::None) {
            principal.may(target, Action::View)?;
        }
        if relation.target != "permission" {
            continue;
        }
        let Some(Json::Array(given)) = body.get(link.key) else {
            continue;
        };
        check_permission_grant(tx, principal, id, given).await?;
    }
    if let Some(id) = id {
        check_password_change(tx, principal, def, id, body).await?;
    }
    Ok(())
}

/// Refuses deleting the company's last owner.
pub async fn check_delete(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    id: i64,
) -> Result<(), Error> {
    if def.columns.iter().any(|c| c.references == Some("roles")) {
        keep_an_owner(tx, def, tenant, id, None).await?;
    }
    Ok(())
}

/// An id as the write will read it: validation takes `"3"` and `3.0` for 3, so the checks must
/// too, or a string would slip a role past them.
fn as_id(raw: &Json) -> Option<i64> {
    coerce(ColumnType::Int, raw).and_then(|v| v.as_int())
}

/// A 403 naming what the caller lacks, when `granted` holds permissions it does not.
fn refuse_missing(
    principal: &Principal,
    granted: &BTreeSet<String>,
    message: impl FnOnce(String) -> Message,
) -> Result<(), Error> {
    let missing: Vec<&str> = granted
        .iter()
        .filter(|name| !principal.holds(name))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(message(missing.join(", "))))
}

/// The permission names of one of the company's roles (none for a role of another company:
/// the write's own validation refuses that role).
async fn role_permissions(
    tx: &mut Tx,
    tenant: Tenant,
    role: i64,
) -> Result<BTreeSet<String>, Error> {
    let rows: Vec<(String,)> = tx
        .fetch_as(&Raw::new(
            "SELECT p.name FROM role_permissions rp \
             JOIN roles r ON r.id = rp.role_id \
             JOIN permissions p ON p.id = rp.permission_id \
             WHERE rp.role_id = ? AND r.company_id = ?",
            vec![role.into(), tenant.company_id.into()],
        ))
        .await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// A role's new permission set (names or ids) may add only permissions the caller holds; the
/// owner role may lose none.
async fn check_permission_grant(
    tx: &mut Tx,
    principal: &Principal,
    role: Option<i64>,
    given: &[Json],
) -> Result<(), Error> {
    // The catalogue is a few dozen rows: resolve names and ids against all of it.
    let catalogue: Vec<(i64, String)> = tx
        .fetch_as(&Raw::new("SELECT id, name FROM permissions", vec![]))
        .await?;
    let named = |id: i64, name: &str| {
        given
            .iter()
            .any(|v| as_id(v) == Some(id) || v.as_str() == Some(name))
    };
    let wanted: BTreeSet<String> = catalogue
        .into_iter()
        .filter(|(id, name)| named(*id, name))
        .map(|(_, name)| name)
        .collect();
    let (current, builtin) = match role {
        Some(role) => (
            role_permissions(tx, principal.tenant, role).await?,
            role_marker(tx, principal.tenant, role).await?,
        ),
        None => (BTreeSet::new(), None),
    };
    let added: BTreeSet<String> = wanted.difference(&current).cloned().collect();
    refuse_missing(principal, &added, |missing| {
        Message::new("privilege.permissions_above_grantor").with("missing", missing)
    })?;
    if builtin.as_deref() == Some(OWNER_MARKER) && !current.is_subset(&wanted) {
        return Err(Error::Conflict(Message::new(
            "privilege.owner_role_keeps_all",
        )));
    }
    Ok(())
}

async fn role_marker(tx: &mut Tx, tenant: Tenant, role: i64) -> Result<Option<String>, Error> {
    let rows: Vec<(Option<String>,)> = tx
        .fetch_as(&Raw::new(
            "SELECT builtin FROM roles WHERE id = ? AND company_id = ?",
            vec![role.into(), tenant.company_id.into()],
        ))
        .await?;
    Ok(rows.into_iter().next().and_then(|(marker,)| marker))
}

/// Whether `user` holds the company's owner role.
async fn is_owner(tx: &mut Tx, tenant: Tenant, user: i64) -> Result<bool, Error> {
    let rows: Vec<(i64,)> = tx
        .fetch_as(&Raw::new(
            "SELECT u.id FROM users u JOIN roles r ON r.id = u.role_id \
             WHERE u.id = ? AND u.company_id = ? AND r.builtin = ?",
            vec![user.into(), tenant.company_id.into(), OWNER_MARKER.into()],
        ))
        .await?;
    Ok(!rows.is_empty())
}

/// Refuses taking the owner role from (`new_role` not the owner's), or deleting
/// (`new_role` is `None`), the company's last owner: a 409 that says so.
async fn keep_an_owner(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    user: i64,
    new_role: Option<i64>,
) -> Result<(), Error> {
    if !is_owner(tx, tenant, user).await? {
        return Ok(());
    }
    if let Some(role) = new_role
        && role_marker(tx, tenant, role).await?.as_deref() == Some(OWNER_MARKER)
    {
        return Ok(());
    }
    let sql = format!(
        "SELECT COUNT(*) FROM {table} u JOIN roles r ON r.id = u.role_id \
         WHERE u.company_id = ? AND r.builtin = ? AND u.id <> ?",
        table = def.table
    );
    let others: Vec<(i64,)> = tx
        .fetch_as(&Raw::owned(
            sql,
            vec![tenant.company_id.into(), OWNER_MARKER.into(), user.into()],
        ))
        .await?;
    if others.first().is_some_and(|(n,)| *n > 0) {
        return Ok(());
    }
    let key = match new_role {
        Some(_) => "privilege.last_owner_role",
        None => "privilege.last_owner_delete",
    };
    Err(Error::Conflict(Message::new(key)))
}

/// Another user's password changes only with that user's current password, or by an owner.
async fn check_password_change(
    tx: &mut Tx,
    principal: &Principal,
    def: &ResourceDef,
    id: i64,
    body: &Map<String, Json>,
) -> Result<(), Error> {
    let tenant = principal.tenant;
    let Some(column) = def.columns.iter().find(|c| c.password) else {
        return Ok(());
    };
    if !def.own_record || !body.contains_key(column.name) || id == tenant.user_id {
        return Ok(());
    }
    if is_owner(tx, tenant, tenant.user_id).await? {
        return Ok(());
    }
    let Some(current) = body.get(CURRENT_PASSWORD).and_then(Json::as_str) else {
        return Err(Error::Refused(Message::new(
            "privilege.password_needs_current",
        )));
    };
    let sql = format!(
        "SELECT {column} FROM {table} WHERE id = ? AND company_id = ?",
        column = column.name,
        table = def.table
    );
    let stored: Vec<(String,)> = tx
        .fetch_as(&Raw::owned(sql, vec![id.into(), tenant.company_id.into()]))
        .await?;
    let Some((stored,)) = stored.into_iter().next() else {
        return Ok(()); // No such user here: the write answers 404.
    };
    if verify_password(current, stored).await {
        return Ok(());
    }
    let mut errors = ValidationErrors::default();
    errors.add(
        CURRENT_PASSWORD,
        Message::new("validation.current_password"),
    );
    Err(Error::Validation(errors))
}
