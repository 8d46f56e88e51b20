-- A listed resource's row counter (`resource_counts`, an unfiltered list's `total`) is kept by
-- its table's own triggers, in the writing statement: one statement less for every create and
-- delete, and exact whatever inserts or deletes (a cascade, `kring seed`, SQL by hand). A delete
-- only lowers a counter, never makes one: a company's deletion cascades through these triggers
-- after its counters are gone. The counters are counted again here, once, before each engine's
-- part makes the triggers.

DELETE FROM resource_counts WHERE resource IN ('appointment', 'assignment', 'chance', 'contact', 'contract', 'customer', 'email', 'field', 'note', 'role', 'task', 'template', 'todo', 'user', 'webhook');
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'appointment', COUNT(*) FROM appointments GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'assignment', COUNT(*) FROM assignments GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'chance', COUNT(*) FROM chances GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'contact', COUNT(*) FROM contacts GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'contract', COUNT(*) FROM contracts GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'customer', COUNT(*) FROM customers GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'email', COUNT(*) FROM emails GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'field', COUNT(*) FROM fields GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'note', COUNT(*) FROM notes GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'role', COUNT(*) FROM roles GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'task', COUNT(*) FROM tasks GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'template', COUNT(*) FROM templates GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'todo', COUNT(*) FROM todos GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'user', COUNT(*) FROM users GROUP BY company_id;
INSERT INTO resource_counts (company_id, resource, total) SELECT company_id, 'webhook', COUNT(*) FROM webhooks GROUP BY company_id;
