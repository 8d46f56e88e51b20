"""Schemathesis hooks for Kring's contract run.

The run's token belongs to a company owner, and the API lets an owner change or delete any
user of the company while another owner remains, itself included. A fuzzer that demotes its
own user tests nothing but 403s afterwards, so the run never writes to that one user: its id
(KRING_OWN_USER_ID) in a user path becomes an id no record has, and the request a 404.
"""

import os

import schemathesis

OWN_USER = os.environ.get("KRING_OWN_USER_ID", "")
NOBODY = "999999999"


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    operation = ctx.operation
    if (
        path_parameters
        and operation is not None
        and operation.path == "/api/user/{id}"
        and str(path_parameters.get("id")) == OWN_USER
    ):
        path_parameters["id"] = NOBODY
    return path_parameters
