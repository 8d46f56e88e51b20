-- Keys the instances of one deployment share, made at the first start (the key that signs
-- download links: a link made by one instance opens through any other).
CREATE TABLE server_keys (
    name {text} NOT NULL PRIMARY KEY,
    secret {text} NOT NULL
);
