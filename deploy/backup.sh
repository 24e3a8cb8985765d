#!/usr/bin/env bash
# Gongkai 公开 — back up the data folder and the database into one archive (备份).
# Safe while Gongkai runs. See usage() and RUNBOOK.md.
set -euo pipefail

PROG=${0##*/}
DEFAULT_ENV_FILE=/etc/gongkai/gongkai.env
DEFAULT_OUTPUT=/var/backups/gongkai
PY=${GONGKAI_PYTHON:-python3}
VENV=${GONGKAI_VENV:-/opt/gongkai/venv}

usage() {
    cat <<EOF
Usage: $PROG [options]

Back up Gongkai into OUTPUT/gongkai-backup-<UTC time>.tar.gz (plus a .sha256 file):
  MANIFEST         when, from where, which database, row counts
  data/            the data folder: site/, printqueue/ and the rest; with SQLite also
                   gongkai.sqlite3, copied consistently with SQLite's backup API
  gongkai.pgdump   with PostgreSQL: pg_dump -Fc of the database (needs postgresql-client)
Safe to run while Gongkai is running. Restore with restore.sh.

Options:
  -e, --env-file FILE  read GONGKAI_* settings from FILE
                       (default: $DEFAULT_ENV_FILE if it exists)
  -d, --data-dir DIR   the data folder (default: GONGKAI_DATA_DIR from the environment,
                       the env file, or data_dir in the TOML file named by GONGKAI_CONFIG)
  -o, --output DIR     where to write the archive (default: $DEFAULT_OUTPUT)
  -k, --keep-days N    then delete gongkai-backup-*.tar.gz older than N days in OUTPUT
  -h, --help           show this help

The database is GONGKAI_DATABASE_URL (same sources): empty means SQLite in the data
folder. Its password is never printed. The archive is created mode 0600.
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }


ENV_FILE="" DATA_DIR_OPT="" OUTPUT=$DEFAULT_OUTPUT KEEP_DAYS=""
while (($#)); do
    case $1 in
        -e | --env-file) ENV_FILE=${2:?"$1 needs a file"}; shift 2 ;;
        -d | --data-dir) DATA_DIR_OPT=${2:?"$1 needs a folder"}; shift 2 ;;
        -o | --output) OUTPUT=${2:?"$1 needs a folder"}; shift 2 ;;
        -k | --keep-days) KEEP_DAYS=${2:?"$1 needs a number"}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ -z $KEEP_DAYS || $KEEP_DAYS =~ ^[0-9]+$ ]] || die "--keep-days needs a whole number"
command -v "$PY" >/dev/null || die "$PY not found (set GONGKAI_PYTHON)"

# Settings (environment, env file, TOML) and DATA_DIR, shared with the other script.
# shellcheck source=SCRIPTDIR/settings.sh
. "$(dirname "$0")/settings.sh"
[[ -d $DATA_DIR ]] || die "data folder $DATA_DIR does not exist"
DB_URL=""
if setting GONGKAI_DATABASE_URL database_url; then DB_URL=$REPLY; fi

umask 077
mkdir -p "$OUTPUT"
OUTPUT=$(cd "$OUTPUT" && pwd -P)
case "$OUTPUT/" in "$(cd "$DATA_DIR" && pwd -P)/"*) die "the output folder must not be inside the data folder" ;; esac
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
NAME=gongkai-backup-$STAMP
ARCHIVE=$OUTPUT/$NAME.tar.gz
[[ ! -e $ARCHIVE ]] || die "$ARCHIVE already exists"
STAGING=$(mktemp -d "$OUTPUT/.$NAME.XXXXXX")
trap 'rm -rf -- "$STAGING" "$ARCHIVE.partial"' EXIT
MEMBERS=(MANIFEST)

# ── 1. The database first: files written after it are harmless (channels repeat safely). ──
case $DB_URL in
    "" | sqlite://*)
        KIND=sqlite
        DB_FILE=$DATA_DIR/gongkai.sqlite3
        if [[ $DB_URL == sqlite://* ]]; then
            DB_FILE=${DB_URL#sqlite://}; DB_FILE=${DB_FILE%%\?*}
            [[ $DB_FILE == "$DATA_DIR/gongkai.sqlite3" ]] ||
                die "SQLite database $DB_FILE is outside the usual place $DATA_DIR/gongkai.sqlite3: not supported by this script"
        fi
        [[ -f $DB_FILE ]] || die "no database at $DB_FILE (run 'gongkai init' first?)"
        log "copying SQLite database $DB_FILE"
        mkdir "$STAGING/data"
        COUNTS=$("$PY" - "$DB_FILE" "$STAGING/data/gongkai.sqlite3" <<'PYEOF'
import sqlite3, sys
from urllib.parse import quote
src = sqlite3.connect(f"file:{quote(sys.argv[1])}?mode=rw", uri=True, timeout=30)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)  # one step: a consistent snapshot, even while the service writes
src.close()
check = dst.execute("PRAGMA integrity_check").fetchone()[0]
if check != "ok":
    sys.exit(f"integrity check of the copy failed: {check}")
dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file; the app turns WAL back on
items, deliveries = (dst.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("item", "delivery"))
print(f"items={items} deliveries={deliveries}")
dst.close()
PYEOF
        ) || die "copying the SQLite database failed"
        MEMBERS+=(data/gongkai.sqlite3)
        MASKED=""
        ;;
    postgres://* | postgresql://*)
        KIND=postgres
        command -v pg_dump >/dev/null || die "pg_dump not found: apt install postgresql-client"
        MASKED=$(printf '%s' "$DB_URL" | "$PY" "$HELPER_PY" mask)
        while IFS= read -r -d '' pair; do export "${pair?}"; done \
            < <(printf '%s' "$DB_URL" | "$PY" "$HELPER_PY" pgenv)
        [[ -n ${PGDATABASE-} ]] || die "no database name in GONGKAI_DATABASE_URL ($MASKED)"
        COUNTS=$(psql -X -w -At -F ' ' -c \
            "SELECT 'items=' || (SELECT count(*) FROM item), 'deliveries=' || (SELECT count(*) FROM delivery)" \
            2>/dev/null) || COUNTS="items=? deliveries=?"
        log "dumping PostgreSQL database $MASKED"
        pg_dump -w --format=custom --file="$STAGING/gongkai.pgdump" ||
            die "pg_dump of $MASKED failed"
        pg_restore --list "$STAGING/gongkai.pgdump" >/dev/null || die "the dump is not readable"
        MEMBERS+=(gongkai.pgdump)
        ;;
    *) die "GONGKAI_DATABASE_URL has an unknown scheme (expected sqlite:// or postgres://)" ;;
esac

VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("gongkai"))' 2>/dev/null) ||
    VERSION=unknown
cat >"$STAGING/MANIFEST" <<EOF
format=gongkai-backup/1
created=$STAMP
host=$(hostname)
gongkai_version=$VERSION
data_dir=$DATA_DIR
database=$KIND
database_url=$MASKED
${COUNTS// /$'\n'}
EOF

# ── 2. The data folder (site/, printqueue/, …) without the live SQLite files. ──
log "archiving $DATA_DIR"
rc=0
tar --create --gzip --file="$ARCHIVE.partial" \
    --anchored --exclude=./gongkai.sqlite3 --exclude='./gongkai.sqlite3-*' --exclude='./.restore-*' \
    --warning=no-file-changed --warning=no-file-removed --warning=no-file-shrank \
    --transform='s,^\.$,data,S' --transform='s,^\./,data/,S' \
    -C "$STAGING" "${MEMBERS[@]}" -C "$DATA_DIR" . || rc=$?
((rc <= 1)) || die "tar failed (exit $rc)"
((rc == 0)) || log "note: some files changed while being read (normal while the service runs)"
tar --list --gzip --file="$ARCHIVE.partial" >/dev/null || die "the archive does not read back"
mv -- "$ARCHIVE.partial" "$ARCHIVE"
(cd "$OUTPUT" && sha256sum -- "$NAME.tar.gz" >"$NAME.tar.gz.sha256")
log "done: $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1), $KIND, $COUNTS)"

# ── 3. Retention. ──
if [[ -n $KEEP_DAYS ]]; then
    while IFS= read -r -d '' old; do
        log "deleting old backup ${old##*/}"
        rm -f -- "$old" "$old.sha256"
    done < <(find "$OUTPUT" -maxdepth 1 -type f -name 'gongkai-backup-*.tar.gz' -mtime "+$KEEP_DAYS" -print0)
fi

printf '%s\n' "$ARCHIVE"
