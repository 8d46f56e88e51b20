-- SQLite's indexes already sort nulls first, the order Kring's pages use: nothing to change
-- (PostgreSQL's part rebuilds its index with nulls first).
SELECT 1;
