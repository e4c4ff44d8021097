"""accounts' pages, one file per page or family of pages (the two-factor pages are in
accounts/two_factor/views/):

- signin.py: the sign-in (also the Django admin's login) and the sign-out;
- password.py: Change Password, the password reset by email, the invitation's password;
- users.py: the Users page, a user's page, adding users, roles, (de)activation, API access;
- domains.py: the Domains page.
"""
