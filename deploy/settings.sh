# Sourced by backup.sh and restore.sh (bash): reads Gongkai's settings the way the app does
# (environment, then the env file, then the TOML file) and sets DATA_DIR. The caller has set
# PY, ENV_FILE, DEFAULT_ENV_FILE, DATA_DIR_OPT and defined die().
# shellcheck shell=bash

HELPER_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/settings_helper.py"

# ── Settings: environment, then env file, then TOML (the app's own precedence). ──
declare -A FILE_VARS=()
if [[ -z $ENV_FILE && -f $DEFAULT_ENV_FILE ]]; then ENV_FILE=$DEFAULT_ENV_FILE; fi
if [[ -n $ENV_FILE ]]; then
    [[ -r $ENV_FILE ]] || die "cannot read env file $ENV_FILE"
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?(GONGKAI_[A-Z0-9_]+)=(.*)$ ]] || continue
        key=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
        FILE_VARS[$key]=$value
    done <"$ENV_FILE"
fi

# setting NAME toml_key: sets REPLY; returns 1 if the setting is unset everywhere.
setting() {
    local name=$1 key=$2 config rc=0
    if [[ -v $name ]]; then REPLY=${!name}; return 0; fi
    if [[ -v FILE_VARS[$name] ]]; then REPLY=${FILE_VARS[$name]}; return 0; fi
    config=${GONGKAI_CONFIG-${FILE_VARS[GONGKAI_CONFIG]-}}
    [[ -n $config ]] || return 1
    [[ -r $config ]] || die "cannot read settings file $config (GONGKAI_CONFIG)"
    REPLY=$("$PY" "$HELPER_PY" toml "$config" "$key") || rc=$?
    ((rc != 3)) || return 1
    ((rc == 0)) || die "cannot read $key from $config"
}

DATA_DIR=$DATA_DIR_OPT
if [[ -z $DATA_DIR ]]; then
    setting GONGKAI_DATA_DIR data_dir ||
        die "data folder unknown: give --data-dir, or set GONGKAI_DATA_DIR (--env-file)"
    DATA_DIR=$REPLY
fi
[[ $DATA_DIR == /* ]] || die "data folder must be an absolute path: $DATA_DIR"
DATA_DIR=${DATA_DIR%/}
