"""The signed, read-only, Constellix-compatible API under /api/v1/ and /api/v4/.

The per-request path is the product's hot loop, at its floor of one database and one Redis
round trip, with no write but last used (throttled to once a minute per key). Nothing about
a key is cached between requests: a key deleted, expired or suspended fails on the very
next request on any app server.

A signed request's steps, in the order it takes them (`signed.authenticate()` reads as
this list):

1. Middleware: portal.middleware.SessionlessViewMiddleware calls an API view past the rest
   of the stack (no session, no template); the view's `signed.signed_api` decorator refuses
   anything but GET or HEAD, runs the steps below and answers in JSON (`errors.py`)
   whatever happens.
2. Parse and freshness (`signing.py`): the token from the headers, checked for shape, and
   its timestamp against the server's clock. No I/O.
3. The one statement (`lookup.py`): the key, just enough of its owner to judge it and, on
   PostgreSQL, the view's data as JSON built by the database (`reads.py`), in one round
   trip. A deleted or made-up key is unknown.
4. Secret and HMAC (`signing.py`): the key's secret decrypted (apikeys/secret_storage.py)
   and the signature checked against it. A refusal up to here carries no rate-limit
   headers: only a verified request learns its key's window.
5. Source address and allowed addresses (`sources.py`, on apikeys/addresses.py): the
   request's address against the key's allowed addresses; arithmetic, no query.
6. Rate limit, with usage riding along (`ratelimit.py`, `usage.py`): one Redis round trip
   counts the request against the key's window and, in the same pipeline, counts its
   outcome (and its address) for the usage charts. Then the key's state (expired, revoked,
   suspended) and the address are refused, in that order.
7. Last used (`lastused.py`): at most once a minute per key, one UPDATE of when and from
   where (sources.record_use()).

Then the view (`views.py`) sends the data read in step 3. API calls are not activity-log
events: a busy client would flood the log; last used shows each key's use instead.
`openapi.py` describes the API; `urls.py` routes it.
"""
