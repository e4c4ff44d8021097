"""The portal's pages for API keys, one module per page or group of pages: the User
window (profile.py: the profile and each key's Generate, View, Edit, Roll, Expiry and Delete),
the API help page (api_help.py), the administrators' inventory (inventory.py) and the Key
Policy (policy.py). The signed API's views are apikeys/api/views.py."""
