"""Write a `.env` for a laptop with freshly generated secrets, unless one exists.

Run by `make run` on first use; `.env` is git-ignored and never committed.
"""

import base64
import os
import secrets
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / ".env"


def main() -> int:
    if PATH.exists():
        return 0
    PATH.write_text(
        "# Written by `make run` for local development. Never commit this file.\n"
        "DEBUG=true\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"KEY_ENCRYPTION_KEYS={base64.b64encode(os.urandom(32)).decode()}\n"
    )
    PATH.chmod(0o600)
    print(f"Wrote {PATH.name} with freshly generated secrets.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
