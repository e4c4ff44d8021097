"""The portal's pages for API keys, a module per page: the User window (profile.py, with
View and Hide), Add API Key (generate.py), a key's Edit, Roll, Expire Sooner and Delete
(edit.py, roll.py, expiry.py, delete.py), the API help page (api_help.py), the
administrators' inventory with its Delete (inventory.py) and the Key Policy (policy.py).
The signed API's views are apikeys/api/views.py."""
