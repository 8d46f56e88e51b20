//! The resource registry and the one generic engine that serves every resource (DESIGN §5).

pub mod defs;
pub mod engine;
mod field_values;
pub mod handlers;

pub use kring_core::resource::{Action, Relation, ResourceDef, Routes};

/// Every resource Kring serves through the generic engine. Routes, permissions and the
/// registry-walking tests all read this list.
pub static REGISTRY: &[&ResourceDef] = &[&defs::customer::CUSTOMER, &defs::field::FIELD];

pub fn find(name: &str) -> Option<&'static ResourceDef> {
    REGISTRY.iter().copied().find(|def| def.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_models_are_the_resources_with_custom_fields() {
        let with_fields: Vec<&str> = REGISTRY
            .iter()
            .filter(|d| d.custom_fields)
            .map(|d| d.name)
            .collect();
        assert_eq!(with_fields, defs::field::MODELS_WITH_FIELDS);
    }

    #[test]
    fn every_resource_has_id_and_timestamps_and_a_unique_name() {
        for def in REGISTRY {
            for column in ["id", "created_at", "updated_at"] {
                assert!(
                    def.column(column).is_some_and(|c| !c.writable),
                    "{}.{column}",
                    def.name
                );
            }
            assert_eq!(
                def.columns.first().map(|c| c.name),
                Some("id"),
                "{}",
                def.name
            );
            assert_eq!(REGISTRY.iter().filter(|d| d.name == def.name).count(), 1);
        }
    }
}
