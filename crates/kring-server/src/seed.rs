//! Demo data for trying Kring and for benchmarks (`kring seed --customers N`): customers with
//! plausible names and contact details, two contacts each (linked both ways), three tasks each,
//! and a `Tier` select field with a value for every customer. Inserted in batches in one
//! transaction (the row counters follow from their tables' triggers); no activity-log entries for seeded rows.

use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, Func, Query};

use crate::db::{Db, Raw, Tx};
use crate::error::Error;
use crate::tenant::Tenant;

const FIRST: [&str; 12] = [
    "Lowe", "Farrell", "Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos",
    "Peters", "Hendriks",
];
const SECOND: [&str; 10] = [
    "Leuschke", "Dekker", "Brouwer", "de Groot", "Vos", "Willems", "Kramer", "Schouten", "Prins",
    "Kuipers",
];
const KIND: [&str; 8] = [
    "BV",
    "NV",
    "Holding",
    "Groep",
    "& Zonen",
    "Consultancy",
    "Logistiek",
    "Techniek",
];
const GIVEN: [&str; 8] = [
    "Anna", "Bram", "Cor", "Daan", "Eva", "Fleur", "Gijs", "Hanna",
];
pub const TIERS: [&str; 3] = ["gold", "silver", "bronze"];

/// Rows per multi-row `INSERT`, well under both engines' bound-parameter limits.
const BATCH: usize = 500;

/// Adds `count` customers with their contacts, tasks and tier to company `company`.
pub async fn demo(db: &Db, company: &str, count: u64) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    let company_id = one_int(&mut tx, "SELECT id FROM companies WHERE name = ?", company)
        .await?
        .ok_or_else(|| Error::Config(format!("no company named {company}; create a user first")))?;
    let user_id = one_int(
        &mut tx,
        "SELECT MIN(id) FROM users WHERE company_id = (SELECT id FROM companies WHERE name = ?)",
        company,
    )
    .await?
    .ok_or_else(|| Error::Config(format!("company {company} has no users")))?;
    let tenant = Tenant {
        company_id,
        user_id,
    };
    let now = Utc::now();

    let customers =
        insert_customers(&mut tx, tenant, usize::try_from(count).unwrap_or(0), now).await?;
    let contacts = insert_contacts(&mut tx, tenant, &customers, now).await?;
    let pivot = contacts
        .iter()
        .enumerate()
        .filter_map(|(j, contact)| Some(vec![(*customers.get(j / 2)?).into(), (*contact).into()]));
    insert_rows(
        &mut tx,
        "customer_contact",
        &["customer_id", "contact_id"],
        pivot,
    )
    .await?;
    let tasks = customers.iter().enumerate().flat_map(|(i, customer)| {
        (0..3).map(move |t| {
            vec![
                company_id.into(),
                user_id.into(),
                (*customer).into(),
                format!("Call about order {}", i * 3 + t).into(),
                (t == 0).into(),
                (1 + small(i + t) % 5).into(),
                now.into(),
                now.into(),
            ]
        })
    });
    let task_columns = [
        "company_id",
        "user_id",
        "customer_id",
        "name",
        "done",
        "priority",
        "created_at",
        "updated_at",
    ];
    insert_rows(&mut tx, "tasks", &task_columns, tasks).await?;
    let tier = tier_field(&mut tx, tenant, now).await?;
    let values = customers.iter().enumerate().map(|(i, customer)| {
        vec![
            company_id.into(),
            tier.into(),
            "customer".into(),
            (*customer).into(),
            pick(&TIERS, i).into(),
            "select".into(),
            now.into(),
            now.into(),
        ]
    });
    let value_columns = [
        "company_id",
        "field_id",
        "model_type",
        "model_id",
        "value",
        "field_type",
        "created_at",
        "updated_at",
    ];
    insert_rows(&mut tx, "field_values", &value_columns, values).await?;

    tx.commit().await?;
    // The `Tier` field gets its key and group as any field does, now rather than at the next
    // start (which would make a served deployment change under its clients).
    crate::engine::write::fill_missing(db).await?;
    // A bulk load changes the data's shape at once; plan the next queries with that shape.
    db.analyze(true).await
}

async fn one_int(tx: &mut Tx, sql: &'static str, param: &str) -> Result<Option<i64>, Error> {
    // `MIN(id)` of no users is a row holding NULL, which means none just as no row does.
    let rows: Vec<(Option<i64>,)> = tx.fetch_as(&Raw::new(sql, vec![param.into()])).await?;
    Ok(rows.into_iter().next().and_then(|(id,)| id))
}

/// The highest id of `table` in the company, so the rows inserted next can be read back.
async fn last_id(tx: &mut Tx, table: &str, tenant: Tenant) -> Result<i64, Error> {
    let mut query = Query::select();
    query
        .expr(Func::max(Expr::col("id")))
        .from(table.to_string())
        .and_where(Expr::col("company_id").eq(tenant.company_id));
    // `MAX(id)` of an empty table is NULL.
    let rows: Vec<(Option<i64>,)> = tx.fetch_as(&query).await?;
    Ok(rows.into_iter().next().and_then(|(id,)| id).unwrap_or(0))
}

async fn ids_after(
    tx: &mut Tx,
    table: &str,
    tenant: Tenant,
    after: i64,
) -> Result<Vec<i64>, Error> {
    let mut query = Query::select();
    query
        .column("id")
        .from(table.to_string())
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("id").gt(after))
        .order_by("id", sea_query::Order::Asc);
    let rows: Vec<(i64,)> = tx.fetch_as(&query).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

async fn insert_rows(
    tx: &mut Tx,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Vec<sea_query::Value>>,
) -> Result<(), Error> {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let mut insert = Query::insert();
        insert
            .into_table(table.to_string())
            .columns(columns.iter().map(|c| c.to_string()));
        for row in rows.by_ref().take(BATCH) {
            insert
                .values(row.into_iter().map(Expr::val))
                .map_err(|e| Error::Internal(format!("seed statement: {e}")))?;
        }
        tx.execute(&insert).await?;
    }
    Ok(())
}

async fn insert_customers(
    tx: &mut Tx,
    tenant: Tenant,
    count: usize,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, Error> {
    let before = last_id(tx, "customers", tenant).await?;
    let rows = (0..count).map(|i| {
        let name = format!(
            "{}, {} {} {i}",
            pick(&FIRST, i),
            pick(&SECOND, i / 12),
            pick(&KIND, i / 120)
        );
        let slug: String = name
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        vec![
            tenant.company_id.into(),
            tenant.user_id.into(),
            name.clone().into(),
            format!("Customer since {}", 2000 + i % 25).into(),
            format!("{:08}", 10_000_000 + i).into(),
            format!("info@{slug}.test").into(),
            format!("+31 20 {:03} {:04}", i % 1000, i % 10_000).into(),
            (now + chrono::Duration::hours(small(i % 2000))).into(),
            i.is_multiple_of(3).into(),
            now.into(),
            now.into(),
        ]
    });
    let columns = [
        "company_id",
        "user_id",
        "name",
        "description",
        "coc",
        "email",
        "phone",
        "next_contact",
        "show_on_map",
        "created_at",
        "updated_at",
    ];
    insert_rows(tx, "customers", &columns, rows).await?;
    ids_after(tx, "customers", tenant, before).await
}

/// Two contacts per customer (contact `j` belongs to customer `j / 2`): one in sales, one not.
async fn insert_contacts(
    tx: &mut Tx,
    tenant: Tenant,
    customers: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, Error> {
    let before = last_id(tx, "contacts", tenant).await?;
    let rows = customers.iter().enumerate().flat_map(|(i, customer)| {
        [("sales", "Verkoop"), ("info", "Administratie")].map(|(mailbox, function)| {
            vec![
                tenant.company_id.into(),
                tenant.user_id.into(),
                (*customer).into(),
                pick(&GIVEN, i).into(),
                format!("{} {i}", pick(&SECOND, i)).into(),
                format!("{mailbox}{i}@example.test").into(),
                function.into(),
                now.into(),
                now.into(),
            ]
        })
    });
    let columns = [
        "company_id",
        "user_id",
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "function",
        "created_at",
        "updated_at",
    ];
    insert_rows(tx, "contacts", &columns, rows).await?;
    ids_after(tx, "contacts", tenant, before).await
}

/// The company's `Tier` select field on customers, made with its options if it is new.
async fn tier_field(tx: &mut Tx, tenant: Tenant, now: DateTime<Utc>) -> Result<i64, Error> {
    let existing: Vec<(i64,)> = tx
        .fetch_as(&Raw::new(
            "SELECT id FROM fields WHERE company_id = ? AND model = 'customer' AND name = 'Tier'",
            vec![tenant.company_id.into()],
        ))
        .await?;
    if let Some((id,)) = existing.into_iter().next() {
        return Ok(id);
    }
    let id = tx
        .insert(&Raw::new(
            "INSERT INTO fields (company_id, name, type, model, required, position, created_at, updated_at) \
             VALUES (?, 'Tier', 'select', 'customer', ?, 0, ?, ?) RETURNING id",
            vec![tenant.company_id.into(), false.into(), now.into(), now.into()],
        ))
        .await?;
    let options = TIERS.iter().enumerate().map(|(position, tier)| {
        vec![
            tenant.company_id.into(),
            id.into(),
            (*tier).into(),
            small(position).into(),
            now.into(),
            now.into(),
        ]
    });
    let columns = [
        "company_id",
        "field_id",
        "value",
        "position",
        "created_at",
        "updated_at",
    ];
    insert_rows(tx, "field_options", &columns, options).await?;
    Ok(id)
}

/// The `i`th of `names`, round and round.
fn pick(names: &[&'static str], i: usize) -> &'static str {
    names
        .get(i.checked_rem(names.len()).unwrap_or(0))
        .copied()
        .unwrap_or("")
}

/// A count or index of the demo data as a column value (they stay far below `i64::MAX`).
fn small(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
