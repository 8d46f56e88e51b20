//! Media (`spec/cirqll.md` §6.17, spatie/laravel-medialibrary's shape): a stored file attached
//! to a record.

use kring_core::schema::{Column, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{ResourceDef, Routes};

pub static MEDIA: ResourceDef = ResourceDef {
    name: "media",
    table: "media",
    columns: &[
        Column::id(),
        text("model_type").not_null(),
        int("model_id").not_null(),
        text("uuid").not_null(),
        text("collection_name").not_null(),
        text("name").not_null(),
        text("file_name").not_null(),
        text("mime_type"),
        int("size").not_null(),
        CREATED_AT,
        UPDATED_AT,
    ],
    routes: Routes::None,
    ..ResourceDef::BASE
};
