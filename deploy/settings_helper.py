"""Helpers for backup.sh and restore.sh: read a TOML key, split a database URL into libpq
variables, mask its password. URLs come on stdin, never on a command line.

Usage: settings_helper.py toml FILE KEY | settings_helper.py mask | settings_helper.py pgenv
"""

import sys
from urllib.parse import parse_qs, unquote, urlsplit

mode = sys.argv[1]
if mode == "toml":
    import tomllib

    try:
        with open(sys.argv[2], "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        sys.exit(f"{sys.argv[2]}: {exc}")
    if sys.argv[3] not in data:
        sys.exit(3)
    print(data[sys.argv[3]], end="")
    sys.exit(0)
url = urlsplit(sys.stdin.read().strip())
if mode == "mask":
    host = url.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    user = (
        f"{url.username}:***@"
        if url.password is not None
        else (f"{url.username}@" if url.username else "")
    )
    port = f":{url.port}" if url.port else ""
    print(f"{url.scheme}://{user}{host}{port}{url.path}", end="")
elif mode == "pgenv":
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    out = {
        "PGHOST": query.get("host") or url.hostname,
        "PGPORT": str(url.port) if url.port else query.get("port"),
        "PGUSER": unquote(url.username) if url.username else query.get("user"),
        "PGPASSWORD": unquote(url.password) if url.password is not None else query.get("password"),
        "PGDATABASE": unquote(url.path.lstrip("/")) or None,
        "PGSSLMODE": query.get("sslmode")
        or ({"true": "require"}.get(query.get("ssl", "").lower(), query.get("ssl"))),
    }
    for key, value in out.items():
        if value:
            sys.stdout.write(f"{key}={value}\0")
