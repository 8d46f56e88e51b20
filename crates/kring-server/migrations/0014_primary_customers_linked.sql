-- A contact's primary customer is always one of its customers: link those that were not.
INSERT INTO customer_contact (customer_id, contact_id)
SELECT c.customer_id, c.id FROM contacts c
WHERE c.customer_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM customer_contact l
                  WHERE l.customer_id = c.customer_id AND l.contact_id = c.id);
