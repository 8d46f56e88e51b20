//! Customer: `spec/cirqll.md` §6.1 (VERIFIED from the seed), keys in the seed's order.

use kring_core::schema::{Column, boolean, int, long_text, text, timestamp};

use super::{CREATED_AT, UPDATED_AT, owner};
use crate::registry::{Link, Relation, ResourceDef};

pub static CUSTOMER: ResourceDef = ResourceDef {
    name: "customer",
    table: "customers",
    columns: &[
        Column::id(),
        owner(),
        text("name").required(),
        long_text("description").writable(),
        text("coc").writable(),
        // Unique per company in both dialects, as ManageIt's rules have it.
        text("email").writable().email().unique(),
        text("phone").writable(),
        timestamp("next_contact").writable(),
        boolean("show_on_map").writable(),
        CREATED_AT,
        UPDATED_AT,
        long_text("next_contact_note").writable(),
        // Not in the seed's shape: kept for `with=origin,address`, not served as keys.
        int("origin_id").references("origins").hidden(),
        int("address_id").references("addresses").hidden(),
        // The ManageIt dialect's person and business details (`spec/manageit.md` §6.1); there
        // `name` above is `business_information.company_name`.
        text("first_name").writable().hidden(),
        text("last_name").writable().hidden(),
        boolean("stripe_customer_flag").hidden(),
        text("company_phone").writable().hidden(),
        text("company_email").writable().email().hidden(),
        text("company_website").writable().hidden(),
        text("address_1").writable().hidden(),
        text("address_2").writable().hidden(),
        text("country").writable().hidden(),
        text("city").writable().hidden(),
        text("state").writable().hidden(),
        text("zip_code").writable().hidden(),
        text("fax").writable().hidden(),
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("origin", "origin", "origin_id"),
        Relation::belongs_to("address", "address", "address_id"),
        Relation::many_to_many(
            "contacts",
            "contact",
            "customer_contact",
            "customer_id",
            "contact_id",
        ),
        Relation::has_many("appointments", "appointment", "customer_id"),
        Relation::has_many("tasks", "task", "customer_id"),
        Relation::has_many("chances", "chance", "customer_id"),
        Relation::has_many("assignments", "assignment", "customer_id"),
        Relation::has_many("contracts", "contract", "customer_id"),
        Relation::has_many("notes", "note", "customer_id"),
        Relation::has_many("emails", "email", "customer_id"),
        Relation::FIELD_VALUES,
        Relation::ACTIVITY_LOG,
        Relation::MEDIA,
    ],
    owner: Some("user_id"),
    custom_fields: true,
    links: &[Link {
        key: "contact_ids",
        relation: "contacts",
        primary: None,
    }],
    ..ResourceDef::BASE
};
