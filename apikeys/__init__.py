"""API keys: their pages, their signed API and the rules they keep.

- models.py: the data (keys, usage counts), their states and querysets.
- actions.py: every audited change to a key, each with its activity-log entry.
- views/ (a module per page) and urls.py: the portal's pages; forms.py, menu.py, charts.py.
- api/: the signed API; its __init__ lists a request's steps beside their modules.
- leaked.py: reports of leaked secrets (POST /api/credentials/revoke) and their emails.
- reminders.py (with idle.py): the daily run of expiry reminders and idle-key retirement.
- secret_format.py (a secret's shape and checksum), secret_storage.py (encrypted at rest,
  fingerprinted), addresses.py (allowed addresses), expiry.py (months on the owner's clock).
- users_page.py: each user's keys on the Users pages (registered with accounts/figures.py).
"""
