//! Webhook (`spec/cirqll.md` §6.16): a subscription of a URL to one event. This is also the
//! Zapier REST-hook subscribe (POST) and unsubscribe (DELETE).

use kring_core::schema::{Column, Default, boolean, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef};

/// A Standard Webhooks secret from 24 random bytes of the operating system.
pub fn new_secret() -> Option<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).ok()?;
    Some(kring_core::webhook::secret_from(&bytes))
}

pub static WEBHOOK: ResourceDef = ResourceDef {
    name: "webhook",
    table: "webhooks",
    columns: &[
        Column::id(),
        // Always the creator, never from the body: deliveries carry what this user may read,
        // so naming the owner here would read with the owner's eyes.
        int("user_id").references("users"),
        // Where deliveries go: checked at every write and before every attempt (SSRF).
        text("url").required().max(2048).target(),
        text("event")
            .required()
            .one_of_computed(crate::registry::subscribable_events),
        // False once a receiver answered 410 Gone or every retry failed; the owner turns a
        // subscription off and on again with it.
        boolean("active").writable().default(Default::Bool(true)),
        CREATED_AT,
        UPDATED_AT,
        // Shown once, in the create response; deliveries are signed with it.
        text("secret").hidden().generated(new_secret),
    ],
    relations: &[Relation::belongs_to("user", "user", "user_id")],
    owner: Some("user_id"),
    ..ResourceDef::BASE
};
