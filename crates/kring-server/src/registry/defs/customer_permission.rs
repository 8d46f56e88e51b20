//! CustomerPermission (`spec/manageit.md` §2.3): one portal permission (1–16) a ManageIt
//! customer holds. A link table, read through a ManageIt customer's fixed plan; no routes.

use kring_core::schema::int;

use super::CREATED_AT;
use crate::registry::{Relation, ResourceDef, Routes};

pub static CUSTOMER_PERMISSION: ResourceDef = ResourceDef {
    name: "customer_permission",
    table: "customer_permissions",
    // The key first: related rows are read in its order.
    columns: &[
        int("permission_id").not_null(),
        // Deleted with the customer by its foreign key (no registry reference: the
        // engine's cascade walks records by id, which a link table has none of).
        int("customer_id").not_null(),
        CREATED_AT,
    ],
    routes: Routes::None,
    ..ResourceDef::BASE
};

/// A customer's permissions, as ManageIt's fixed plan reads them. Not among the customer's
/// relations: Cirqll's `with` does not name them.
pub static PERMISSIONS: Relation =
    Relation::has_many("permissions", "customer_permission", "customer_id");
