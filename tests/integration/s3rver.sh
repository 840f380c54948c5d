# A signature-checking S3 server on loopback (@20minutes/s3rver 5), for
# tests/integration/test_s3.sh and bench/s3.sh. Source it, then:
#
#   s3rver_install PREFIX LOG   npm-installs the server under PREFIX/node
#                               unless it is there; 1 (log in LOG) when npm
#                               is missing or fails
#   s3rver_start PREFIX DATA BUCKET OUT
#                               starts tests/integration/s3server.js with
#                               its objects under DATA and BUCKET created;
#                               sets S3PID and S3PORT, writes its stdout and
#                               stderr to OUT.port / OUT.err; 1 if it did
#                               not start within 10 s
#   s3rver_stop                 kills S3PID (if any) and waits for it
#   wait_port FILE              prints the port a server wrote as "PORT n"
#
# Needs S3RVER_SRC (or SRC) set to the source tree. Credentials are
# s3rver's own: S3RVER / S3RVER.

S3PID=""
S3PORT=""

# wait_port FILE: the port a server printed as "PORT n" (10 s at most)
wait_port() {
    _i=0
    while [ $_i -lt 100 ]; do
        _p=$(sed -n 's/^PORT //p' "$1" 2>/dev/null || true)
        [ -n "$_p" ] && { echo "$_p"; return 0; }
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

s3rver_install() {
    [ -f "$1/node/node_modules/@20minutes/s3rver/lib/s3rver.js" ] && return 0
    command -v npm >/dev/null 2>&1 || { echo "npm not found" >"$2"; return 1; }
    timeout 300 npm install --prefix "$1/node" --no-audit --no-fund \
        --fetch-retries=1 --fetch-timeout=60000 \
        @20minutes/s3rver@5 >"$2" 2>&1
}

s3rver_start() {
    _mods=$(cd "$1" && pwd)/node/node_modules
    mkdir -p "$2"
    # paginated listings answer 500 on Node 20 without the legacy provider
    NODE_OPTIONS=--openssl-legacy-provider node \
        "${S3RVER_SRC:-$SRC}/tests/integration/s3server.js" \
        "$_mods" "$2" "$3" >"$4.port" 2>"$4.err" &
    S3PID=$!
    S3PORT=$(wait_port "$4.port") || return 1
}

s3rver_stop() {
    if [ -n "$S3PID" ]; then
        kill "$S3PID" 2>/dev/null || true
        wait "$S3PID" 2>/dev/null || true
        S3PID=""
    fi
    return 0
}
