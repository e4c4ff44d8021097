"""Helpers every app uses. They know nothing of accounts, audit or apikeys: this package
sits below them all (see docs/architecture.md)."""
