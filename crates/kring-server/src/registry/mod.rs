//! The resource registry: every resource described once, as data (DESIGN §5). The engine,
//! the routes, permissions, scopes and the registry-walking tests all read it.

pub mod defs;

use std::sync::LazyLock;

pub use kring_core::resource::{Action, Link, Relation, ResourceDef, Routes};

/// Every resource Kring serves through the generic engine. Routes, permissions and the
/// registry-walking tests all read this list.
pub static REGISTRY: &[&ResourceDef] = &[
    &defs::user::USER,
    &defs::role::ROLE,
    &defs::customer::CUSTOMER,
    &defs::contact::CONTACT,
    &defs::task::TASK,
    &defs::appointment::APPOINTMENT,
    &defs::chance::CHANCE,
    &defs::assignment::ASSIGNMENT,
    &defs::contract::CONTRACT,
    &defs::email::EMAIL,
    &defs::field::FIELD,
    &defs::note::NOTE,
    &defs::todo::TODO,
    &defs::template::TEMPLATE,
    &defs::setting::SETTING,
    &defs::webhook::WEBHOOK,
    // Reachable through relations and parents' bodies only.
    &defs::company::COMPANY,
    &defs::address::ADDRESS,
    &defs::origin::ORIGIN,
    &defs::media::MEDIA,
    &defs::activity_log::ACTIVITY_LOG,
    &defs::permission::PERMISSION,
    &defs::field_value::FIELD_VALUE,
    &defs::field_option::FIELD_OPTION,
    &defs::subtask::SUBTASK,
    &defs::template_item::TEMPLATE_ITEM,
    &defs::customer_permission::CUSTOMER_PERMISSION,
];

/// Every table the registry's resources and relations use (pivots included), once each.
pub fn tables() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = Vec::new();
    for def in REGISTRY {
        let pivots = def.relations.iter().filter_map(|r| match r.kind {
            kring_core::resource::RelationKind::ManyToMany { pivot, .. } => Some(pivot),
            _ => None,
        });
        for table in std::iter::once(def.table).chain(pivots) {
            if !tables.contains(&table) {
                tables.push(table);
            }
        }
    }
    tables
}

pub fn find(name: &str) -> Option<&'static ResourceDef> {
    REGISTRY.iter().copied().find(|def| def.name == name)
}

/// Every event a webhook may subscribe to: each routed resource's `<name>.created`,
/// `.updated` and `.deleted` (a singleton is only ever updated), as the writes record them.
pub fn subscribable_events() -> &'static [&'static str] {
    static EVENTS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let kinds = |def: &ResourceDef| match def.routes {
            Routes::Crud => &["created", "updated", "deleted"][..],
            Routes::Singleton => &["updated"][..],
            Routes::None => &[][..],
        };
        REGISTRY
            .iter()
            .flat_map(|def| kinds(def).iter().map(|kind| format!("{}.{kind}", def.name)))
            .map(|name| &*String::leak(name))
            .collect()
    });
    &EVENTS
}

/// The resources whose records carry custom field values, for a field's `model`.
pub fn models_with_fields() -> &'static [&'static str] {
    static MODELS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        REGISTRY
            .iter()
            .filter(|def| def.custom_fields)
            .map(|def| def.name)
            .collect()
    });
    &MODELS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists that used to be kept by hand, now derived: the seven field models of
    /// `spec/cirqll.md` §5, and every routed resource's events.
    #[test]
    fn derived_lists_hold_what_the_specs_name() {
        assert_eq!(
            models_with_fields(),
            [
                "customer",
                "contact",
                "task",
                "appointment",
                "chance",
                "assignment",
                "contract"
            ]
        );
        let events = subscribable_events();
        for name in [
            "customer.created",
            "todo.deleted",
            "user.updated",
            "setting.updated",
        ] {
            assert!(events.contains(&name), "{name}");
        }
        assert!(
            !events.contains(&"setting.created"),
            "a singleton is never created"
        );
        assert!(
            !events.contains(&"subtask.created"),
            "subtasks change through tasks"
        );
        let routed = REGISTRY.iter().filter(|d| d.routes == Routes::Crud).count();
        assert_eq!(events.len(), routed * 3 + 1);
    }

    #[test]
    fn every_resource_has_id_and_timestamps_and_a_unique_name() {
        for def in REGISTRY {
            assert_eq!(REGISTRY.iter().filter(|d| d.name == def.name).count(), 1);
            // A link table (`customer_permissions`) is keyed by its first column, not an id;
            // nothing refers to its rows.
            if def.routes == Routes::None && def.column("id").is_none() {
                assert!(
                    def.columns
                        .first()
                        .is_some_and(|c| !c.nullable && !c.writable)
                );
                assert!(
                    REGISTRY
                        .iter()
                        .all(|other| other.relations.iter().all(|r| r.target != def.name))
                );
                continue;
            }
            let managed: &[&str] = if def.routes == Routes::None {
                &["id"]
            } else {
                &["id", "created_at", "updated_at"]
            };
            for column in managed {
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
        }
    }

    /// Every relation, nested list, link and reference names something that exists, so a typo
    /// in a description fails here rather than as a 500.
    #[test]
    fn descriptions_are_consistent() {
        use kring_core::resource::RelationKind;
        for def in REGISTRY {
            for relation in def.relations {
                let target = find(relation.target).unwrap_or_else(|| {
                    panic!("{}.{} → {}", def.name, relation.name, relation.target)
                });
                match relation.kind {
                    RelationKind::BelongsTo { key } => {
                        assert!(def.column(key).is_some(), "{}.{key}", def.name)
                    }
                    RelationKind::HasMany { key } => {
                        assert!(target.column(key).is_some(), "{}.{key}", target.name)
                    }
                    RelationKind::Morph {
                        type_column,
                        id_column,
                    } => {
                        assert!(target.column(type_column).is_some(), "{}", target.name);
                        assert!(target.column(id_column).is_some(), "{}", target.name);
                    }
                    RelationKind::ManyToMany { .. } => {}
                }
            }
            for name in def.nested {
                let relation = def.relation(name).expect("nested relation");
                assert!(
                    matches!(relation.kind, RelationKind::HasMany { .. }),
                    "{}.{name}",
                    def.name
                );
            }
            for link in def.links {
                let relation = def.relation(link.relation).expect("link relation");
                assert!(
                    matches!(relation.kind, RelationKind::ManyToMany { .. }),
                    "{}.{}",
                    def.name,
                    link.key
                );
            }
            for column in def.columns {
                if let Some(table) = column.references {
                    assert!(
                        REGISTRY.iter().any(|d| d.table == table && d.tenant),
                        "{}.{} → {table}",
                        def.name,
                        column.name
                    );
                }
            }
        }
    }
}
