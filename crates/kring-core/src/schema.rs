//! How a resource's columns are described: once, as data, read by validation, storage, the
//! query language and the OpenAPI document alike.

/// The storage and wire type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Int,
    Float,
    Bool,
    /// Short text (`VARCHAR`-like; give it a `max`).
    Text,
    Timestamp,
    Date,
    /// JSON stored as text; served as JSON. Never writable through a body.
    Json,
}

/// The values a text column accepts.
#[derive(Debug, Clone, Copy)]
pub enum Choices {
    Fixed(&'static [&'static str]),
    Computed(fn() -> &'static [&'static str]),
}

impl Choices {
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Choices::Fixed(values) => values,
            Choices::Computed(values) => values(),
        }
    }
}

/// One column of a resource. Build it with the `const fn` helpers so resource descriptions are
/// `static` data checked by the compiler.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// Taken from request bodies. Columns that are not writable (id, timestamps, tenant) are
    /// never read from a body, whatever the body says.
    pub writable: bool,
    /// Must be present and non-empty on create.
    pub required: bool,
    pub nullable: bool,
    /// Maximum length in characters, for text.
    pub max: Option<usize>,
    pub email: bool,
    /// The table whose `id` (in the caller's company) this column must name.
    pub references: Option<&'static str>,
    /// What deleting the referenced record does to this record.
    pub on_delete: OnDelete,
    /// Never serialised (password hashes and the like).
    pub hidden: bool,
    /// A nested item's place in its parent's list, when the item does not give one
    /// (a subtask's `position`).
    pub ordinal: bool,
    pub filterable: bool,
    pub sortable: bool,
    /// The only values a text column accepts.
    pub one_of: Option<Choices>,
    /// Minimum length in characters, for text.
    pub min: Option<usize>,
    /// Inclusive bounds, for numbers.
    pub range: Option<(i64, i64)>,
    /// No other record of the company may hold the same value (uniqueness never spans
    /// companies: a refusal would tell one company what another holds).
    pub unique: bool,
    /// Stored as an argon2id hash, never serialised, never read back.
    pub password: bool,
    /// An absolute `http`/`https` URL.
    pub url: bool,
    /// A URL the server itself will send requests to (a webhook's target): before a write
    /// stores it, the server checks where it leads (SSRF) and refuses a non-public target.
    pub target: bool,
    /// The value a create that leaves the column out stores.
    pub default: Option<Default>,
    /// Set on create, never changed after (a custom field's type: its stored values were
    /// checked against it).
    pub fixed: bool,
    /// Made by the server on create (a webhook's signing secret); a hidden one is shown once,
    /// in the create response. `None` from the generator means it could not make one.
    pub generate: Option<fn() -> Option<String>>,
    /// What a create that leaves the column empty puts there (see [`Fill`]).
    pub fill: Option<Fill>,
}

/// What happens to a record when the record its column references is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The column becomes null.
    Detach,
    /// The record is deleted too.
    Cascade,
    /// The delete is refused while the reference exists.
    Restrict,
}

/// A column's default on create, when the body does not give one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Int(i64),
    Text(&'static str),
    Bool(bool),
}

/// How a create fills a column the body left empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// A key made from the named text column ([`key_from`]), unique within the company (`tier`,
    /// then `tier_2`, …).
    KeyOf(&'static str),
    /// A random version 4 UUID.
    Uuid,
}

/// A key for `name`: its letters and digits, lower case, runs of anything else as one `_`
/// ("Contract Type" is `contract_type`).
pub fn key_from(name: &str) -> String {
    let mut key = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            key.extend(c.to_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    key.trim_end_matches('_').to_string()
}

/// `key`, or the first of `key_2`, `key_3`, … that `taken` (lower case) does not hold.
pub fn unique_key(key: &str, taken: &[String]) -> String {
    let free = |candidate: &String| !taken.iter().any(|t| t == candidate);
    std::iter::once(key.to_string())
        .chain((2..).map(|n| format!("{key}_{n}")))
        .find(free)
        .unwrap_or_else(|| key.to_string())
}

impl Column {
    pub const fn new(name: &'static str, ty: ColumnType) -> Column {
        Column {
            name,
            ty,
            writable: false,
            required: false,
            nullable: true,
            max: None,
            email: false,
            references: None,
            on_delete: OnDelete::Detach,
            hidden: false,
            ordinal: false,
            filterable: true,
            sortable: true,
            one_of: None,
            min: None,
            range: None,
            unique: false,
            password: false,
            url: false,
            target: false,
            default: None,
            fixed: false,
            generate: None,
            fill: None,
        }
    }

    /// The primary key, `id`.
    pub const fn id() -> Column {
        Column::new("id", ColumnType::Int).not_null()
    }

    pub const fn writable(mut self) -> Column {
        self.writable = true;
        self
    }

    pub const fn required(mut self) -> Column {
        self.writable = true;
        self.required = true;
        self.nullable = false;
        self
    }

    pub const fn not_null(mut self) -> Column {
        self.nullable = false;
        self
    }

    pub const fn max(mut self, max: usize) -> Column {
        self.max = Some(max);
        self
    }

    pub const fn email(mut self) -> Column {
        self.email = true;
        self
    }

    /// A reference to another record. Deleting that record detaches this one (sets the column
    /// to null) when the column is nullable and deletes it when it is not; see [`Column::restrict`].
    pub const fn references(mut self, table: &'static str) -> Column {
        self.references = Some(table);
        self.on_delete = if self.nullable {
            OnDelete::Detach
        } else {
            OnDelete::Cascade
        };
        self
    }

    /// The referenced record cannot be deleted while this one points at it.
    pub const fn restrict(mut self) -> Column {
        self.on_delete = OnDelete::Restrict;
        self
    }

    pub const fn one_of(mut self, allowed: &'static [&'static str]) -> Column {
        self.one_of = Some(Choices::Fixed(allowed));
        self
    }

    /// The accepted values come from `values`, asked when a value is checked: for lists derived
    /// from other descriptions (the registry's resources), which a `const` cannot build.
    pub const fn one_of_computed(mut self, values: fn() -> &'static [&'static str]) -> Column {
        self.one_of = Some(Choices::Computed(values));
        self
    }

    pub const fn min(mut self, min: usize) -> Column {
        self.min = Some(min);
        self
    }

    pub const fn range(mut self, min: i64, max: i64) -> Column {
        self.range = Some((min, max));
        self
    }

    /// Unique within the caller's company.
    pub const fn unique(mut self) -> Column {
        self.unique = true;
        self
    }

    /// Deleting the referenced record deletes this one, even though the column is nullable.
    pub const fn cascade(mut self) -> Column {
        self.on_delete = OnDelete::Cascade;
        self
    }

    pub const fn url(mut self) -> Column {
        self.url = true;
        self
    }

    /// An outgoing target: a URL that must lead to a public address (the `target` field).
    pub const fn target(mut self) -> Column {
        self.url = true;
        self.target = true;
        self
    }

    pub const fn default(mut self, default: Default) -> Column {
        self.default = Some(default);
        self
    }

    /// Filled as `fill` says when a create leaves it empty.
    pub const fn filled(mut self, fill: Fill) -> Column {
        self.fill = Some(fill);
        self
    }

    /// Made by `generator` on create.
    pub const fn generated(mut self, generator: fn() -> Option<String>) -> Column {
        self.generate = Some(generator);
        self
    }

    /// Required on create, unchangeable after.
    pub const fn fixed(mut self) -> Column {
        self.fixed = true;
        self
    }

    /// A write-only secret: hidden and hashed.
    pub const fn password(mut self) -> Column {
        self.password = true;
        self.hidden()
    }

    /// See [`Column::ordinal`].
    pub const fn ordinal(mut self) -> Column {
        self.ordinal = true;
        self
    }

    pub const fn hidden(mut self) -> Column {
        self.hidden = true;
        self.filterable = false;
        self.sortable = false;
        self
    }
}

/// Laravel's default string length.
pub const STRING_MAX: usize = 255;
/// Laravel's `text` column length.
pub const TEXT_MAX: usize = 65_535;

/// Shorthands that read like the schema tables of the spec.
pub const fn text(name: &'static str) -> Column {
    Column::new(name, ColumnType::Text).max(STRING_MAX)
}
pub const fn long_text(name: &'static str) -> Column {
    Column::new(name, ColumnType::Text).max(TEXT_MAX)
}
pub const fn int(name: &'static str) -> Column {
    Column::new(name, ColumnType::Int)
}
pub const fn float(name: &'static str) -> Column {
    Column::new(name, ColumnType::Float)
}
pub const fn boolean(name: &'static str) -> Column {
    Column::new(name, ColumnType::Bool).not_null()
}
pub const fn timestamp(name: &'static str) -> Column {
    Column::new(name, ColumnType::Timestamp)
}
pub const fn date(name: &'static str) -> Column {
    Column::new(name, ColumnType::Date)
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn keys_come_from_names_and_stay_unique() {
        assert_eq!(key_from("  Contract Type "), "contract_type");
        assert_eq!(key_from("Prijs (€) / jaar"), "prijs_jaar");
        assert_eq!(key_from("Straße 2"), "straße_2");
        assert_eq!(key_from("!!!"), "");
        let taken = ["tier".to_string(), "tier_2".to_string()];
        assert_eq!(unique_key("tier", &taken), "tier_3");
        assert_eq!(unique_key("seats", &taken), "seats");
    }
}
