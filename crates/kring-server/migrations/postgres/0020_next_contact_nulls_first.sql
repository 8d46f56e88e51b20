-- Pages sorted by `next_contact` put nulls first ascending and last descending, on both engines
-- (SQLite's own order). A PostgreSQL index sorts nulls last unless told, so it served neither
-- direction and every such page sorted all of the company's customers; with nulls first, a
-- forward scan serves `asc` and a backward scan `desc`, and the page stops at its last row.
DROP INDEX customers_company_next_contact;
CREATE INDEX customers_company_next_contact ON customers (company_id, next_contact NULLS FIRST);
