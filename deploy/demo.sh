#!/bin/sh
# `make demo`: Gongkai with all three channels, WeChat in sandbox mode.
#
# Starts the WeChat emulator (tests/fakes/wechat.py) on 127.0.0.1:$WECHAT_PORT, points
# Gongkai at it, loads the demo data and serves Gongkai on $HOST:$PORT. Stopping the demo
# (Ctrl-C, or SIGTERM to this script) stops both. The phone view of the account is at
# http://127.0.0.1:$WECHAT_PORT/__emu/phone.
set -eu

cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
WECHAT_PORT=${WECHAT_PORT:-8001}
DATA_DIR=${GONGKAI_DATA_DIR:-data}
# Must match bot/demo.py (SANDBOX_*), which configures tiande's account for the sandbox.
export GONGKAI_WECHAT_API_BASE="http://127.0.0.1:$WECHAT_PORT/cgi-bin/"

parent=$PPID
emulator_pid=
serve_pid=
stop() {
    [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
    [ -z "$serve_pid" ] || wait "$serve_pid" 2>/dev/null || true
    [ -z "$emulator_pid" ] || kill "$emulator_pid" 2>/dev/null || true
    [ -z "$emulator_pid" ] || wait "$emulator_pid" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DATA_DIR"
log="$DATA_DIR/wechat-sandbox.log"
"$BIN/python" -m tests.fakes.wechat --port "$WECHAT_PORT" \
    --appid wxdemo00000000000 --secret demo-secret --kind subscription \
    --gh-id gh_demo000000 --nickname 天德乡人民政府 \
    --callback-url "http://127.0.0.1:$PORT/wechat/callback/tiande" \
    --callback-token demo-callback-token >"$log" 2>&1 &
emulator_pid=$!
tries=0
until grep -q '^READY' "$log" 2>/dev/null; do
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        emulator_pid=
        echo "the WeChat sandbox did not start (is port $WECHAT_PORT in use?):" >&2
        cat "$log" >&2
        exit 1
    fi
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || { echo "the WeChat sandbox did not start in 10 s" >&2; exit 1; }
    sleep 0.1
done
echo "WeChat sandbox: http://127.0.0.1:$WECHAT_PORT/__emu/phone (a follower's phone view)"

"$BIN/gongkai" init --demo
"$BIN/gongkai" serve --host "$HOST" --port "$PORT" &
serve_pid=$!
# Stop with whoever started us too (e.g. `make` killed on its own), not only on a signal.
while kill -0 "$serve_pid" 2>/dev/null; do
    kill -0 "$parent" 2>/dev/null || exit 143
    sleep 1
done
wait "$serve_pid"
