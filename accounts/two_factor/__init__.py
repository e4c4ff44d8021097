"""Second factors: authenticator apps, passkeys and recovery codes, in the order a request
meets them.

- devices.py: what counts as a user's second factor, and the one table of their kinds;
- session.py: what the session knows (has a factor, passed the second step, when it last
  proved the factor or the password: `checked_recently(request, mark)`), and the gate's
  rules that SecondFactorMiddleware applies;
- checks.py: checking a code on a page (the second step, the step-up), within the guessing
  budget of portal/lib/throttle.py;
- step_up.py: `require_recent_auth`, asking again before a sensitive action;
- passkeys.py: django-otp-webauthn's ceremonies wrapped for the portal (webauthn_urls.py
  serves them under the library's namespace);
- changes.py: every change to a user's factors and every check of one, logged;
- views/ and urls.py: the Two-Factor page (adding and removing factors, recovery codes),
  the second step, and an Account Administrator's reset of another user's factors.
"""
