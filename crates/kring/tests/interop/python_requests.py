"""A Python integration as its authors would write it, with `requests`: the ManageIt multipart
create, the file link, and Cirqll's JSON. Prints a JSON report of what the server answered.
Arguments: base URL, token, the ids of a text, a multiselect and a file field, a PDF."""
import json
import sys

import requests

base, token, tier, colours, documents, pdf = sys.argv[1:7]
http = requests.Session()
http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
report = {}

with open(pdf, "rb") as f:
    content = f.read()
form = [
    ("name", "Ann"), ("last_name", "Python"), ("email", "ann.py@example.test"),
    ("phone", "0612345678"), ("business_information[company_name]", "Requests BV"),
    ("permissions[invoice][view-invoice]", "1"), (f"custom_fields[{tier}][value]", "gold"),
    (f"custom_fields[{colours}][value][]", "red"), (f"custom_fields[{colours}][value][]", "blue"),
]
files = {f"custom_fields[{documents}][file_upload][files][]": ("contract.pdf", content, "application/pdf")}
created = http.post(f"{base}/api/customers", data=form, files=files)
report["created"] = created.status_code
data = created.json()["data"]
values = {f["id"]: f["custom_field_values"][0]["value"] for f in data["custom_fields"]}
report["colours"] = values[int(colours)]
report["file_name"] = values[int(documents)][0]["name"]

link = requests.get(values[int(documents)][0]["path"])
report["download"] = link.status_code
report["same_bytes"] = link.content == content

report["patched"] = http.patch(f"{base}/api/customer/{data['id']}", json={"name": "Python BV"}).status_code
listed = http.get(f"{base}/api/customer", params={"filter": f"field_values.{colours}:eq:red", "with": "field_values"})
report["filtered"] = len(listed.json()["data"])
listed = http.get(f"{base}/api/customers", params={"filter": "name:eq:Ann"})
report["manageit_filtered"] = len(listed.json()["data"])
invalid = http.post(f"{base}/api/customer", json={"email": "not an email"})
report["invalid"] = invalid.status_code
report["error_fields"] = sorted(invalid.json()["errors"].keys())
report["deleted"] = http.delete(f"{base}/api/customers/{data['id']}").status_code
print(json.dumps(report))
