#!/usr/bin/env bash
# The Dockerfile's steps without a container engine (CI has none): check its system packages
# are the ones installed here, run its install step (deploy/container/install.sh) into a fresh
# virtual environment as a non-root user, start its CMD as that user with its ENV, and run its
# HEALTHCHECK until /health answers; then stop the server with SIGTERM (docker stop's signal)
# and check that it exits within the grace time.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKERFILE=Dockerfile
PYTHON=${PYTHON:-python3}

echo "== system packages (deploy/container/system-packages.txt)"
while read -r package; do
  [ -n "$package" ] && dpkg -s "$package" >/dev/null 2>&1 || { echo "missing: $package"; exit 1; }
done < deploy/container/system-packages.txt

work=$(mktemp -d /tmp/ogcserve-container.XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The image's non-root user; here a system user of our own when running as root.
if [ "$(id -u)" = 0 ]; then
  user=ogcserve-check
  id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  as_user() { runuser -u "$user" -- env HOME="$work/home" "$@"; }
else
  as_user() { env HOME="$work/home" "$@"; }
fi
mkdir -p "$work/home" "$work/src"
# The image's COPY lines: the same files, in the same places.
cp pyproject.toml README.md "$work/src/"
cp -r src "$work/src/src"
cp deploy/container/install.sh "$work/src/install.sh"
[ "$(id -u)" = 0 ] && chown -R "$user" "$work"

echo "== install step, as $(as_user id -un): install.sh into a fresh venv"
as_user "$work/src/install.sh" "$work/venv" "$work/src"

# ENV, HEALTHCHECK and CMD as the Dockerfile says them.
read_dockerfile() {
  "$PYTHON" - "$DOCKERFILE" "$1" <<'PY'
import json, shlex, sys
lines = open(sys.argv[1]).read().splitlines()
what = sys.argv[2]
for line in lines:
    if what == "env" and line.startswith("ENV "):
        for pair in shlex.split(line[4:]):
            print(pair)
    elif what == "cmd" and line.startswith("CMD "):
        print("\n".join(json.loads(line[4:])))
    elif what == "health" and line.startswith("HEALTHCHECK "):
        print("\n".join(json.loads(line.split(" CMD ", 1)[1])))
PY
}
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mapfile -t env_pairs < <(read_dockerfile env | sed "s#/opt/ogcserve#$work/venv#g; s#\$PATH#$PATH#g; s#/tmp/ogcserve.pid#$work/ogcserve.pid#g")
mapfile -t command < <(read_dockerfile cmd | sed "s#^0.0.0.0\$#127.0.0.1#; s#^8080\$#$port#")
mapfile -t health < <(read_dockerfile health | sed "s#:8080/#:$port/#")
echo "== CMD as the image's user: ${command[*]} (ENV ${env_pairs[*]})"
as_user env "${env_pairs[@]}" "${command[@]}" > "$work/server.log" 2>&1 &
server=$!

echo "== HEALTHCHECK: ${health[*]}"
for _ in $(seq 90); do
  if (cd "$work" && as_user env "${env_pairs[@]}" "${health[@]}") 2>/dev/null; then
    healthy=1
    break
  fi
  kill -0 "$server" 2>/dev/null || break
  sleep 1
done
if [ -z "${healthy:-}" ]; then
  echo "the server never became healthy:"; cat "$work/server.log"; exit 1
fi
as_user env "${env_pairs[@]}" python -c "
import urllib.request
body = urllib.request.urlopen('http://127.0.0.1:$port/ows?SERVICE=WMS&REQUEST=GetCapabilities', timeout=30).read()
assert b'WMS_Capabilities' in body, body[:200]
print('GetCapabilities: ok,', len(body), 'bytes')"
# The server's own process (PID 1 in a container), from its pid file (OGCSERVE_PID_FILE).
pid=$(cat "$work/ogcserve.pid")
owner=$(ps -o user= -p "$pid" | tr -d ' ')
echo "server (pid $pid) runs as: $owner"
[ "$(id -u)" != 0 ] || [ "$owner" = "$user" ] || { echo "the server does not run as $user"; exit 1; }

echo "== SIGTERM (docker stop)"
kill -TERM "$pid"
# The server exits within shutdown_grace (10 s) + 5 s, removing its pid file.
for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
if kill -0 "$pid" 2>/dev/null; then echo "the server did not stop"; cat "$work/server.log"; exit 1; fi
[ ! -e "$work/ogcserve.pid" ] || { echo "the pid file was left behind"; exit 1; }
wait "$server" || true
echo "container build check: ok"
