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
    /// Never serialised (password hashes and the like).
    pub hidden: bool,
    pub filterable: bool,
    pub sortable: bool,
    /// The only values a text column accepts.
    pub one_of: Option<&'static [&'static str]>,
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
            hidden: false,
            filterable: true,
            sortable: true,
            one_of: None,
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

    pub const fn references(mut self, table: &'static str) -> Column {
        self.references = Some(table);
        self
    }

    pub const fn one_of(mut self, allowed: &'static [&'static str]) -> Column {
        self.one_of = Some(allowed);
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
