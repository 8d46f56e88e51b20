//! A small registry shaped like Cirqll's (`spec/cirqll.md` §4.1), for the planner's tests.

use crate::resource::{Registry, Relation, ResourceDef};
use crate::schema::{Column, boolean, date, float, int, text, timestamp};

const fn resource(
    name: &'static str,
    table: &'static str,
    columns: &'static [Column],
    relations: &'static [Relation],
    custom_fields: bool,
) -> ResourceDef {
    ResourceDef {
        name,
        table,
        columns,
        relations,
        custom_fields,
        ..ResourceDef::BASE
    }
}

/// A column that may be shown but neither filtered nor sorted on.
const fn plain(column: Column) -> Column {
    Column {
        filterable: false,
        sortable: false,
        ..column
    }
}

pub static CUSTOMER: ResourceDef = resource(
    "customer",
    "customers",
    &[
        Column::id(),
        int("user_id").references("users"),
        text("name").required(),
        text("email"),
        float("revenue"),
        boolean("show_on_map"),
        timestamp("next_contact"),
        date("founded"),
        plain(text("memo")),
        text("secret").hidden(),
        timestamp("created_at"),
        timestamp("updated_at"),
    ],
    &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::many_to_many(
            "contacts",
            "contact",
            "contact_customer",
            "customer_id",
            "contact_id",
        ),
        Relation::has_many("tasks", "task", "customer_id"),
        Relation::has_many("contracts", "contract", "customer_id"),
        Relation::has_many("chances", "chance", "customer_id"),
        Relation::has_many("appointments", "appointment", "customer_id"),
        Relation::has_many("assignments", "assignment", "customer_id"),
        Relation::FIELD_VALUES,
    ],
    true,
);

pub static USER: ResourceDef = resource(
    "user",
    "users",
    &[
        Column::id(),
        text("name"),
        text("email"),
        int("company_id"),
        text("password").hidden(),
    ],
    &[
        Relation::belongs_to("company", "company", "company_id"),
        Relation::has_many("customers", "customer", "user_id"),
    ],
    false,
);

pub static COMPANY: ResourceDef = resource(
    "company",
    "companies",
    &[Column::id(), text("name"), int("address_id")],
    &[Relation::belongs_to("address", "address", "address_id")],
    false,
);

pub static ADDRESS: ResourceDef = resource(
    "address",
    "addresses",
    &[
        Column::id(),
        text("street"),
        text("city"),
        int("company_id"),
    ],
    &[Relation::belongs_to("company", "company", "company_id")],
    false,
);

pub static CONTACT: ResourceDef = resource(
    "contact",
    "contacts",
    &[
        Column::id(),
        int("user_id"),
        int("customer_id"),
        text("first_name"),
        text("last_name"),
    ],
    &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::has_many("notes", "note", "contact_id"),
        Relation::FIELD_VALUES,
    ],
    true,
);

pub static CONTRACT: ResourceDef = resource(
    "contract",
    "contracts",
    &[
        Column::id(),
        int("customer_id"),
        int("user_id"),
        text("name"),
        float("price"),
        text("description"),
    ],
    &[
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::belongs_to("user", "user", "user_id"),
        Relation::FIELD_VALUES,
    ],
    true,
);

const CHILD_COLUMNS: &[Column] = &[Column::id(), int("customer_id"), text("name")];
const CHILD_RELATIONS: &[Relation] = &[
    Relation::belongs_to("customer", "customer", "customer_id"),
    Relation::FIELD_VALUES,
];

pub static TASK: ResourceDef = resource("task", "tasks", CHILD_COLUMNS, CHILD_RELATIONS, true);
pub static CHANCE: ResourceDef =
    resource("chance", "chances", CHILD_COLUMNS, CHILD_RELATIONS, true);
pub static APPOINTMENT: ResourceDef = resource(
    "appointment",
    "appointments",
    CHILD_COLUMNS,
    CHILD_RELATIONS,
    true,
);
pub static ASSIGNMENT: ResourceDef = resource(
    "assignment",
    "assignments",
    CHILD_COLUMNS,
    CHILD_RELATIONS,
    true,
);

pub static NOTE: ResourceDef = resource(
    "note",
    "notes",
    &[Column::id(), int("contact_id"), text("body")],
    &[],
    false,
);

pub static FIELD_VALUE: ResourceDef = resource(
    "field_value",
    "field_values",
    &[
        Column::id(),
        int("field_id"),
        text("value"),
        text("model_type"),
        int("model_id"),
    ],
    &[Relation::belongs_to("field", "field", "field_id")],
    false,
);

pub static FIELD: ResourceDef =
    resource("field", "fields", &[Column::id(), text("name")], &[], false);

/// A resource whose only relation points at a resource the registry lacks.
pub static ORPHAN: ResourceDef = resource(
    "orphan",
    "orphans",
    &[Column::id()],
    &[Relation::has_many("ghosts", "ghost", "orphan_id")],
    false,
);

pub static REGISTRY: &[&ResourceDef] = &[
    &CUSTOMER,
    &USER,
    &COMPANY,
    &ADDRESS,
    &CONTACT,
    &CONTRACT,
    &TASK,
    &CHANCE,
    &APPOINTMENT,
    &ASSIGNMENT,
    &NOTE,
    &FIELD_VALUE,
    &FIELD,
    &ORPHAN,
];

pub fn registry() -> &'static dyn Registry {
    &REGISTRY
}
