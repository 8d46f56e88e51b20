-- A value carries its field's type (fixed once the field exists), so that every read can give
-- it back in that type without a second lookup.
ALTER TABLE field_values ADD COLUMN field_type {text} NOT NULL DEFAULT 'text';
UPDATE field_values SET field_type = (SELECT f.type FROM fields f WHERE f.id = field_values.field_id)
WHERE EXISTS (SELECT 1 FROM fields f WHERE f.id = field_values.field_id);
