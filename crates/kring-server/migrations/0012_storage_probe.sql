-- A scratch table for `/ready`: while writes have been failing for want of space, it commits a
-- row here and then its removal, as the one honest test that writes fit again.
CREATE TABLE storage_probe (
    id {id},
    filler {text} NOT NULL
);
