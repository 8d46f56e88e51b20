// A story through a client generated from Kring's OpenAPI document: `openapi-typescript` makes
// the types, `openapi-fetch` the calls, and the compiler holds the story to the document.
// Usage: node story.js <base URL> <token>; prints what each step answered, as JSON.
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const [baseUrl, token] = process.argv.slice(2);
const client = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${token}`, "Accept-Language": "en" },
});

const created = await client.POST("/api/customer", {
  body: { name: "Typed Client BV", email: "typed@example.test" },
});
const id = created.data?.id;
if (id === undefined) throw new Error(`create: ${JSON.stringify(created.error)}`);

const listed = await client.GET("/api/customer", {
  params: { query: { filter: "name:starts_with:Typed", limit: 10 } },
});

const updated = await client.PATCH("/api/customer/{id}", {
  params: { path: { id } },
  body: { phone: "+31 20 123 4567" },
});

// The document says `name` is required on create: the compiler refuses a body without it.
// @ts-expect-error name is missing
const invalid = await client.POST("/api/customer", { body: { email: "not an email" } });
const errors = invalid.error && "errors" in invalid.error ? Object.keys(invalid.error.errors).sort() : [];

const deleted = await client.DELETE("/api/customer/{id}", { params: { path: { id } } });
const gone = await client.GET("/api/customer/{id}", { params: { path: { id } } });

console.log(
  JSON.stringify({
    created: created.response.status,
    listed: listed.data?.total,
    names: listed.data?.data?.map((customer) => customer.name),
    patched: updated.data?.phone,
    invalid: invalid.response.status,
    error_fields: errors,
    deleted: deleted.response.status,
    gone: gone.response.status,
    gone_message: gone.error?.message,
  }),
);
