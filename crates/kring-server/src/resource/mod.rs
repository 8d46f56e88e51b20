//! The resource registry and the one generic engine that serves every resource (DESIGN §5).

pub mod def;
pub mod defs;
pub mod engine;
mod field_values;
pub mod handlers;

pub use def::{Action, ResourceDef};

/// Every resource Kring serves through the generic engine. Routes, permissions and the
/// registry-walking tests all read this list.
pub static REGISTRY: &[&ResourceDef] = &[&defs::customer::CUSTOMER, &defs::field::FIELD];

pub fn find(name: &str) -> Option<&'static ResourceDef> {
    REGISTRY.iter().copied().find(|def| def.name == name)
}
