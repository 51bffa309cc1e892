#!/usr/bin/env bash
# `npm run image:build`: build the image with buildah (daemonless, as root), then prove it by starting
# the api service from the image's root filesystem against PostgreSQL and asking /api/ready.
#   BASE_IMAGE   base with node 22 + npm (default: a local debootstrap bookworm minbase, made once)
#   IMAGE        tag to build (default market-data-pipeline:0.1.0)
#   SMOKE_DATABASE_URL  server for the smoke test (default postgres://postgres@127.0.0.1:5432/postgres;
#                a fresh database is created on it and dropped afterwards)
#   SKIP_SMOKE=1 build only
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-market-data-pipeline:0.1.0}
LOCAL_BASE=localhost/mdp-base:bookworm-node22
BH=(buildah --storage-driver vfs)

if [ "$(id -u)" != 0 ]; then echo "image:build: buildah with the vfs driver and chroot isolation needs root" >&2; exit 1; fi

# A base without a registry: Debian bookworm minbase + this project's Node 22 (the `node` npm package's
# binary) + npm, with the machine's CA bundle and npm cafile so npm in the build reaches the registry.
make_local_base() {
	local root node_bin npm_dir ctr
	root=$(mktemp -d /var/tmp/mdp-base.XXXXXX)
	node_bin=$(readlink -f node_modules/node/bin/node)
	npm_dir=$(npm root -g)/npm
	"$node_bin" --version | grep -q '^v22\.' || { echo "image:build: node_modules/node is not Node 22" >&2; exit 1; }
	echo "image:build: debootstrap bookworm minbase into $root"
	debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/var/tmp/mdp-debootstrap.log
	install -m 0755 "$node_bin" "$root/usr/local/bin/node"
	mkdir -p "$root/usr/local/lib/node_modules"
	cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
	ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
	ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
	mkdir -p "$root/etc/ssl/certs"
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
	# npm reads its global config from <prefix>/etc/npmrc; the prefix is /usr/local here.
	mkdir -p "$root/usr/local/etc"
	if [ -f /etc/npmrc ]; then grep '^cafile' /etc/npmrc >"$root/usr/local/etc/npmrc" || true; fi
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	ctr=$("${BH[@]}" from scratch)
	"${BH[@]}" copy "$ctr" "$root" / >/dev/null
	"${BH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$ctr"
	"${BH[@]}" commit --rm "$ctr" "$LOCAL_BASE" >/dev/null
	rm -rf "$root"
}

if [ -z "${BASE_IMAGE:-}" ]; then
	BASE_IMAGE=$LOCAL_BASE
	"${BH[@]}" inspect --type image "$LOCAL_BASE" >/dev/null 2>&1 || make_local_base
fi

echo "image:build: building $IMAGE from $BASE_IMAGE"
"${BH[@]}" bud --isolation chroot --layers=false --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" .
"${BH[@]}" images "$IMAGE"

[ "${SKIP_SMOKE:-}" = 1 ] && exit 0
exec bin/image-smoke.sh "$IMAGE"
