"""Management API v2 use cases, one module per resource: users, their authentication methods and logs, Guardian
factors, clients, resource servers, client grants, roles.

They take plain values (request bodies as mappings) and return Auth0-shaped dicts. Creation and validation of
tenant objects go through `myaccount.admin`, the layer the CLI and the tenant file use, so every entry point
stores alike. Errors are `admin.AdminError`s (400/404/409) carrying Auth0's `errorCode` (`errors.py`).
"""
