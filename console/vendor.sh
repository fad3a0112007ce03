#!/bin/sh
# vendor.sh keeps the console's third-party files: Preact with its hooks and htm, copied verbatim from the
# packages the npm registry publishes at the versions pinned below, with their licences. There is no build
# step: the browser loads these files as they are, through the import map in static/index.html.
#
#   console/vendor.sh update   fetch the pinned packages with npm pack and copy their files into static/vendor
#   console/vendor.sh check    prove that the committed files equal the published ones (exit 1 otherwise)
#
# Both commands check each tarball against the integrity pinned here, so a registry that served other bytes
# under the same version is refused. To move to a new version, change the version and its integrity
# (npm view <package>@<version> dist.integrity), run update, and check the console in a browser.
set -eu

PREACT_VERSION=11.2.0
PREACT_INTEGRITY=sha512-/HfHI/7N84e6GrWBJ3J280z3mLaRJiDcSvj/A+y/4AbLnND/1UlGHe1sR6oYuTGwId0nP7dqDU9OnLxMPZ7xBg==
HTM_VERSION=3.1.1
HTM_INTEGRITY=sha512-983Vyg8NwUE7JkZ6NmOqpCZ+sh1bKv2iYTlUkzlWmA5JD2acKoxd4KVxbMmxX/85mtfdnDmTFoNKcg5DGAvxNQ==

# Each line: the file under static/vendor, the package, and the file inside the package.
FILES="
preact/preact.mjs preact dist/preact.mjs
preact/preact.mjs.map preact dist/preact.mjs.map
preact/hooks.mjs preact hooks/dist/hooks.mjs
preact/hooks.mjs.map preact hooks/dist/hooks.mjs.map
preact/LICENSE preact LICENSE
htm/htm.module.js htm dist/htm.module.js
htm/preact.module.js htm preact/index.module.js
htm/LICENSE htm LICENSE
"

usage() {
	echo "usage: $0 update|check" >&2
	exit 2
}
[ $# -eq 1 ] || usage
mode=$1
case $mode in update | check) ;; *) usage ;; esac

vendor=$(cd "$(dirname "$0")" && pwd)/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch packs name@version into $tmp/name, after checking the tarball's integrity against the pinned one.
fetch() {
	name=$1 version=$2 integrity=$3
	(cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
	tarball=$tmp/$name-$version.tgz
	got=sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 | tr -d '\n')
	if [ "$got" != "$integrity" ]; then
		echo "vendor.sh: $name@$version: the registry's tarball has integrity $got, not the pinned $integrity" >&2
		exit 1
	fi
	mkdir "$tmp/$name"
	tar -xzf "$tarball" -C "$tmp/$name" --strip-components=1
}

fetch preact "$PREACT_VERSION" "$PREACT_INTEGRITY"
fetch htm "$HTM_VERSION" "$HTM_INTEGRITY"

status=0
echo "$FILES" | while read -r dest pkg src; do
	[ -n "$dest" ] || continue
	if [ "$mode" = update ]; then
		mkdir -p "$(dirname "$vendor/$dest")"
		cp "$tmp/$pkg/$src" "$vendor/$dest"
	elif ! cmp -s "$tmp/$pkg/$src" "$vendor/$dest"; then
		echo "vendor.sh: static/vendor/$dest differs from $pkg's $src (run console/vendor.sh update)" >&2
		exit 1
	fi
done || status=1

# Every vendored file is one the list names: nothing else may hide under static/vendor.
expected=$(echo "$FILES" | awk 'NF { print $1 }' | sort)
present=$(cd "$vendor" && find . -type f | sed 's|^\./||' | sort)
if [ "$mode" = check ] && [ "$expected" != "$present" ]; then
	echo "vendor.sh: static/vendor holds other files than the list names:" >&2
	echo "$expected" | diff - /dev/stdin <<EOT >&2 || true
$present
EOT
	status=1
fi
if [ "$mode" = update ]; then
	echo "$present" | while read -r f; do
		echo "$expected" | grep -qx "$f" || rm "$vendor/$f"
	done
fi
if [ $status -eq 0 ]; then
	echo "vendor.sh $mode: static/vendor holds preact $PREACT_VERSION and htm $HTM_VERSION as published"
fi
exit $status
