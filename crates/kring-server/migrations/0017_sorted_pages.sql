-- Indexes that serve the pages customers are read by most, in the order `order_by=name` sorts
-- (case ignored, as the folded-key token renders it; `id` last, the tiebreak every page orders by):
-- a company's customers by name, and one owner's customers by name, so an owner's sorted page
-- (and its total) walks the owner's index entries alone, reading only the page's 25 rows,
-- instead of reading every row of the owner and sorting them. The old
-- `(company_id, name)` index sorted by the stored case, which `order_by` no longer uses.
DROP INDEX customers_company_name;
CREATE INDEX customers_company_name ON customers (company_id, {folded:name}, id);
CREATE INDEX customers_owner_name ON customers (company_id, user_id, {folded:name}, id);
