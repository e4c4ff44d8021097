"""The two-factor pages, one file per page or family of pages:

- page.py: the Two-Factor Authentication page (User window), adding an authenticator app or
  a passkey, removing one, recovery codes, and the set-up a policy may require;
- second_step.py: the second step after the password;
- reset.py: an Account Administrator's reset of another user's factors (the emergency path).
"""
