// A Node integration as its authors would write it, with the built-in fetch and FormData: the
// ManageIt multipart create, the file link, and Cirqll's JSON. Prints a JSON report of what the
// server answered. Arguments: base URL, token, ids of a text, a multiselect and a file field, a PDF.
import { readFileSync } from "node:fs";

const [base, token, tier, colours, documents, pdf] = process.argv.slice(2);
const auth = { Authorization: `Bearer ${token}`, Accept: "application/json" };
const json = { ...auth, "Content-Type": "application/json" };
const report = {};

const content = readFileSync(pdf);
const form = new FormData();
for (const [key, value] of [
  ["name", "Ann"], ["last_name", "Node"], ["email", "ann.node@example.test"],
  ["phone", "0612345678"], ["business_information[company_name]", "Fetch BV"],
  ["permissions[invoice][view-invoice]", "1"], [`custom_fields[${tier}][value]`, "gold"],
  [`custom_fields[${colours}][value][]`, "red"], [`custom_fields[${colours}][value][]`, "blue"],
]) form.append(key, value);
form.append(`custom_fields[${documents}][file_upload][files][]`,
  new Blob([content], { type: "application/pdf" }), "contract.pdf");
const created = await fetch(`${base}/api/customers`, { method: "POST", headers: auth, body: form });
report.created = created.status;
const data = (await created.json()).data;
const values = Object.fromEntries(data.custom_fields.map((f) => [f.id, f.custom_field_values[0].value]));
report.colours = values[colours];
report.file_name = values[documents][0].name;

const link = await fetch(values[documents][0].path);
report.download = link.status;
report.same_bytes = Buffer.from(await link.arrayBuffer()).equals(content);

report.patched = (await fetch(`${base}/api/customer/${data.id}`,
  { method: "PATCH", headers: json, body: JSON.stringify({ name: "Node BV" }) })).status;
const query = new URLSearchParams({ filter: `field_values.${colours}:eq:red`, with: "field_values" });
report.filtered = (await (await fetch(`${base}/api/customer?${query}`, { headers: auth })).json()).data.length;
const mine = new URLSearchParams({ filter: "name:eq:Ann" });
report.manageit_filtered = (await (await fetch(`${base}/api/customers?${mine}`, { headers: auth })).json()).data.length;
const invalid = await fetch(`${base}/api/customer`,
  { method: "POST", headers: json, body: JSON.stringify({ email: "not an email" }) });
report.invalid = invalid.status;
report.error_fields = Object.keys((await invalid.json()).errors).sort();
report.deleted = (await fetch(`${base}/api/customers/${data.id}`, { method: "DELETE", headers: auth })).status;
console.log(JSON.stringify(report));
