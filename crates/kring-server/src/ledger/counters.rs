//! Row counters: the per-company count of each resource, kept by every create and delete in its
//! own transaction, so an unfiltered list's `total` costs one indexed read.

use crate::db::{Raw, Tx};
use crate::error::Error;
use crate::registry::ResourceDef;
use crate::tenant::Tenant;

/// Keeps the per-company row count that unfiltered lists report as `total`.
pub async fn adjust_count(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    delta: i64,
) -> Result<(), Error> {
    let statement = Raw::new(
        "INSERT INTO resource_counts (company_id, resource, total) VALUES (?, ?, ?) \
         ON CONFLICT (company_id, resource) DO UPDATE SET total = resource_counts.total + excluded.total",
        vec![tenant.company_id.into(), def.name.into(), delta.into()],
    );
    tx.execute(&statement).await.map(|_| ())
}
