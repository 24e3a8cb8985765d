#!/usr/bin/env bash
# Gongkai 公开 — restore an archive made by backup.sh (恢复). See usage() and RUNBOOK.md.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
DEFAULT_ENV_FILE=/etc/gongkai/gongkai.env
PY=${GONGKAI_PYTHON:-python3}

usage() {
    cat <<EOF
Usage: $PROG [options] ARCHIVE

Restore a gongkai-backup-*.tar.gz made by backup.sh into the configured data folder
and database. Stop Gongkai first:
    systemctl stop gongkai gongkai-web 'gongkai-worker@*'
What it does, in this order:
  1. checks the archive (its .sha256 if present, its members, its MANIFEST);
  2. makes a safety backup of the current state with backup.sh (unless told not to);
  3. PostgreSQL: replaces the database's public schema with the dump, in one
     transaction (the database must be Gongkai's alone; connect as its owner);
  4. replaces everything in the data folder with the archive's data/ (SQLite included).
The archive must match the configured database kind (SQLite or PostgreSQL).

Options:
  -e, --env-file FILE   read GONGKAI_* settings from FILE
                        (default: $DEFAULT_ENV_FILE if it exists)
  -d, --data-dir DIR    the data folder (default: GONGKAI_DATA_DIR from the environment,
                        the env file, or data_dir in the TOML file named by GONGKAI_CONFIG)
  -s, --safety-dir DIR  where the safety backup goes (default: the archive's folder)
      --no-safety-backup  skip step 2
  -f, --force           restore even though Gongkai seems to be running
  -y, --yes             do not ask for confirmation
  -h, --help            show this help
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }


ENV_FILE="" DATA_DIR_OPT="" SAFETY_DIR="" SAFETY=1 FORCE=0 YES=0 ARCHIVE=""
while (($#)); do
    case $1 in
        -e | --env-file) ENV_FILE=${2:?"$1 needs a file"}; shift 2 ;;
        -d | --data-dir) DATA_DIR_OPT=${2:?"$1 needs a folder"}; shift 2 ;;
        -s | --safety-dir) SAFETY_DIR=${2:?"$1 needs a folder"}; shift 2 ;;
        --no-safety-backup) SAFETY=0; shift ;;
        -f | --force) FORCE=1; shift ;;
        -y | --yes) YES=1; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option: $1" ;;
        *) [[ -z $ARCHIVE ]] || die "only one archive, please"; ARCHIVE=$1; shift ;;
    esac
done
[[ -n $ARCHIVE ]] || { usage >&2; exit 2; }
[[ -f $ARCHIVE ]] || die "no such archive: $ARCHIVE"
ARCHIVE=$(cd "$(dirname "$ARCHIVE")" && pwd -P)/${ARCHIVE##*/}
command -v "$PY" >/dev/null || die "$PY not found (set GONGKAI_PYTHON)"

# Settings (environment, env file, TOML) and DATA_DIR, shared with the other script.
# shellcheck source=SCRIPTDIR/settings.sh
. "$(dirname "$0")/settings.sh"
DB_URL=""
if setting GONGKAI_DATABASE_URL database_url; then DB_URL=$REPLY; fi
case $DB_URL in
    "" | sqlite://*) KIND=sqlite; MASKED="SQLite $DATA_DIR/gongkai.sqlite3" ;;
    postgres://* | postgresql://*)
        KIND=postgres
        for tool in pg_restore psql; do
            command -v "$tool" >/dev/null || die "$tool not found: apt install postgresql-client"
        done
        MASKED=$(printf '%s' "$DB_URL" | "$PY" "$HELPER_PY" mask)
        while IFS= read -r -d '' pair; do export "${pair?}"; done \
            < <(printf '%s' "$DB_URL" | "$PY" "$HELPER_PY" pgenv)
        [[ -n ${PGDATABASE-} ]] || die "no database name in GONGKAI_DATABASE_URL ($MASKED)"
        ;;
    *) die "GONGKAI_DATABASE_URL has an unknown scheme (expected sqlite:// or postgres://)" ;;
esac

# ── 1. Check the archive. ──
if [[ -f $ARCHIVE.sha256 ]]; then
    (cd "$(dirname "$ARCHIVE")" && sha256sum --check --quiet -- "${ARCHIVE##*/}.sha256") ||
        die "checksum mismatch: $ARCHIVE is damaged"
    log "checksum ok"
else
    log "note: no $ARCHIVE.sha256 next to the archive; skipping the checksum"
fi
MEMBERS=$(tar --list --gzip --file="$ARCHIVE") || die "$ARCHIVE is not a readable .tar.gz"
while IFS= read -r member; do
    [[ $member =~ ^(MANIFEST|gongkai\.pgdump|data/?|data/.*)$ && ! $member =~ (^|/)\.\.(/|$) ]] ||
        die "unexpected member in archive: $member (not made by backup.sh?)"
done <<<"$MEMBERS"
MANIFEST=$(tar --extract --gzip --to-stdout --file="$ARCHIVE" MANIFEST) || die "archive has no MANIFEST"
grep -qx 'format=gongkai-backup/1' <<<"$MANIFEST" || die "unknown backup format"
ARCHIVE_KIND=$(sed -n 's/^database=//p' <<<"$MANIFEST")
[[ $ARCHIVE_KIND == "$KIND" ]] ||
    die "archive holds a $ARCHIVE_KIND database but this server is configured for $KIND"
if [[ $KIND == sqlite ]]; then
    grep -qx 'data/gongkai.sqlite3' <<<"$MEMBERS" || die "archive has no data/gongkai.sqlite3"
else
    grep -qx 'gongkai.pgdump' <<<"$MEMBERS" || die "archive has no gongkai.pgdump"
fi

# ── Refuse to restore under a running service. ──
running=()
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    while read -r unit _; do running+=("$unit"); done < <(systemctl list-units --no-legend --plain \
        --state=active,activating,deactivating,reloading \
        gongkai.service gongkai-web.service 'gongkai-worker@*.service' 2>/dev/null || true)
fi
if command -v pgrep >/dev/null; then
    while read -r pid _; do running+=("process $pid"); done < <(pgrep -f 'bin/gongkai (serve|web|worker)' || true)
fi
if [[ $KIND == sqlite && -e $DATA_DIR/gongkai.sqlite3 ]]; then   # who has the file open
    while IFS= read -r pid; do
        running+=("process $pid has $DATA_DIR/gongkai.sqlite3 open")
    done < <(find /proc/[0-9]*/fd -lname "$DATA_DIR/gongkai.sqlite3" 2>/dev/null | cut -d/ -f3 | sort -u)
fi
if ((${#running[@]})); then
    log "Gongkai seems to be running:"
    printf '    %s\n' "${running[@]}" >&2
    ((FORCE)) || die "stop it first (systemctl stop gongkai gongkai-web 'gongkai-worker@*'), or use --force"
    log "--force: restoring anyway"
fi

log "archive:     ${ARCHIVE##*/}"
log "  made:      $(sed -n 's/^created=//p' <<<"$MANIFEST") on $(sed -n 's/^host=//p' <<<"$MANIFEST"), gongkai $(sed -n 's/^gongkai_version=//p' <<<"$MANIFEST"), $(grep -E '^(items|deliveries)=' <<<"$MANIFEST" | tr '\n' ' ')"
log "restore to:  data folder $DATA_DIR, database $MASKED"
log "everything now in the data folder and the database will be REPLACED"
if ((!YES)); then
    [[ -t 0 ]] || die "not a terminal: add --yes to confirm"
    read -r -p "Type 'restore' to continue: " answer
    [[ $answer == restore ]] || die "cancelled"
fi

# ── 2. Safety backup of the current state. ──
NEW_DATA_DIR=0
[[ -d $DATA_DIR ]] || NEW_DATA_DIR=1
if ((SAFETY)); then
    if [[ $KIND == sqlite && ! -f $DATA_DIR/gongkai.sqlite3 ]]; then
        log "no current database in $DATA_DIR: nothing to save first"
    else
        [[ -d $DATA_DIR ]] || mkdir -p "$DATA_DIR"
        args=(--data-dir "$DATA_DIR" --output "${SAFETY_DIR:-$(dirname "$ARCHIVE")}")
        [[ -z $ENV_FILE ]] || args+=(--env-file "$ENV_FILE")
        log "safety backup of the current state first"
        SAFETY_ARCHIVE=$("$HERE/backup.sh" "${args[@]}") ||
            die "safety backup failed; nothing was changed (skip it with --no-safety-backup)"
        log "safety backup: $SAFETY_ARCHIVE"
    fi
fi

# ── Unpack into a staging folder inside the data folder (same file system). ──
umask 022
mkdir -p "$DATA_DIR"
STAGING=$(mktemp -d "$DATA_DIR/.restore-XXXXXX")
trap 'rm -rf -- "$STAGING"' EXIT
tar --extract --gzip --file="$ARCHIVE" --directory="$STAGING"
mkdir -p "$STAGING/data"

# ── 3. PostgreSQL: swap the schema in one transaction. ──
if [[ $KIND == postgres ]]; then
    # The whole dump becomes SQL first: a damaged dump stops here, before the database.
    {
        printf 'SET client_min_messages = warning;\nDROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n'
        pg_restore --no-owner --no-privileges --file=- "$STAGING/gongkai.pgdump"
    } >"$STAGING/restore.sql" || die "the dump in the archive is damaged; nothing was changed"
    log "restoring database $MASKED"
    psql -X -q -w -v ON_ERROR_STOP=1 --single-transaction --file="$STAGING/restore.sql" >/dev/null ||
        die "database restore failed and was rolled back; the data folder is unchanged"
fi

# ── 4. Swap the data folder's contents. ──
log "replacing the contents of $DATA_DIR"
if ((EUID == 0)); then   # files belong to the service user: the folder's owner
    if ((NEW_DATA_DIR)); then   # a new folder: take owner and mode from the archive
        chown --reference="$STAGING/data" -- "$DATA_DIR"
        chmod --reference="$STAGING/data" -- "$DATA_DIR"
    fi
    chown -R --reference="$DATA_DIR" -- "$STAGING/data"
fi
[[ ! -f $STAGING/data/gongkai.sqlite3 ]] || chmod 0640 "$STAGING/data/gongkai.sqlite3"
find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name "${STAGING##*/}" -exec rm -rf -- {} +
find "$STAGING/data" -mindepth 1 -maxdepth 1 -exec mv -t "$DATA_DIR" -- {} +

# ── Report. ──
if [[ $KIND == sqlite ]]; then
    COUNTS=$("$PY" - "$DATA_DIR/gongkai.sqlite3" <<'PYEOF'
import sqlite3, sys
from urllib.parse import quote
db = sqlite3.connect(f"file:{quote(sys.argv[1])}?mode=ro", uri=True)
count = lambda table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
print(f"items={count('item')} deliveries={count('delivery')}")
PYEOF
    )
else
    COUNTS=$(psql -X -w -At -F ' ' -c \
        "SELECT 'items=' || (SELECT count(*) FROM item), 'deliveries=' || (SELECT count(*) FROM delivery)")
fi
log "restored: $COUNTS"
log "next: start Gongkai (systemctl start gongkai, or gongkai-web and the workers),"
log "      check /healthz, then look for deliveries in 'uncertain' or 'failed' (RUNBOOK.md)"
