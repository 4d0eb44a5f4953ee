#!/usr/bin/env bash
# Builds the Debian package with dpkg-deb (no cargo-deb needed): the binary, the systemd units,
# /etc/forkhorn/forkhorn.toml, the logrotate file and the man page generated from the CLI.
#
#   packaging/debian/build.sh [--profile release|debug] [--out DIR]
#
# The binary is built against Debian's own Python (python3-dev), not the interpreter pinned for
# development in .cargo/config.toml: that one lives in a home directory no other machine has.
# Debian's libpython is in a directory the loader searches, so build.rs gives the binary no
# rpath, and dpkg-shlibdeps turns what it links (libpython3.X among them) into Depends. It
# builds in its own target directory, $CARGO_TARGET_DIR/debian-build (default target/), so the
# development build is left as it is. The package lands in DIR (default $CARGO_TARGET_DIR/debian);
# its path is printed last. --profile debug is the quick build CI checks.
#
# Run as root on a machine without python3-dev or dpkg-dev, it installs them with apt-get.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=${CARGO_TARGET_DIR:-target}
profile=release
out=$target/debian
while [ $# -gt 0 ]; do
	case "$1" in
	--profile) profile="$2"; shift 2 ;;
	--out) out="$2"; shift 2 ;;
	*) echo "usage: $0 [--profile release|debug] [--out DIR]" >&2; exit 2 ;;
	esac
done
case "$profile" in
release) cargo_profile=(--release) ;;
debug) cargo_profile=() ;;
*) echo "$0: unknown profile $profile" >&2; exit 2 ;;
esac

# python3-dev: Debian's python3, its shared libpython and headers; dpkg-dev: dpkg-shlibdeps.
missing=()
for pkg in python3-dev dpkg-dev; do
	[ "$(dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "$0: needs ${missing[*]} (Debian packages); install them, as root: apt-get install ${missing[*]}" >&2
		exit 1
	fi
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build=$target/debian-build
PYO3_PYTHON=/usr/bin/python3 CARGO_TARGET_DIR=$build cargo build --quiet "${cargo_profile[@]}" --bin forkhorn --example manpage
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
name="forkhorn_${version}_${arch}"
root="$out/$name"
rm -rf "$root"
mkdir -p "$root/DEBIAN"

install -D -m 0755 "$build/$profile/forkhorn" "$root/usr/bin/forkhorn"
if [ "$profile" = release ]; then
	strip --strip-unneeded "$root/usr/bin/forkhorn"
fi
install -D -m 0644 packaging/systemd/forkhorn.service "$root/lib/systemd/system/forkhorn.service"
install -D -m 0644 packaging/systemd/forkhorn.socket "$root/lib/systemd/system/forkhorn.socket"
install -D -m 0644 packaging/debian/forkhorn.toml "$root/etc/forkhorn/forkhorn.toml"
install -D -m 0644 packaging/logrotate/forkhorn "$root/etc/logrotate.d/forkhorn"
install -d "$root/usr/share/man/man1"
"$build/$profile/examples/manpage" | gzip -9n > "$root/usr/share/man/man1/forkhorn.1.gz"
install -D -m 0644 packaging/debian/copyright "$root/usr/share/doc/forkhorn/copyright"
install -D -m 0644 etc/forkhorn.toml "$root/usr/share/doc/forkhorn/forkhorn.toml.example"
install -D -m 0644 README.md "$root/usr/share/doc/forkhorn/README.md"

installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
# dpkg-shlibdeps reads debian/control for the package's name (a stub in a scratch directory
# does) and takes the binary's package root from the DEBIAN directory above it.
shlibdeps=$(mktemp -d)
trap 'rm -rf "$shlibdeps"' EXIT
mkdir "$shlibdeps/debian"
printf 'Source: forkhorn\n\nPackage: forkhorn\nArchitecture: any\n' > "$shlibdeps/debian/control"
binary=$(realpath "$root/usr/bin/forkhorn")
depends=$(cd "$shlibdeps" && dpkg-shlibdeps -O "$binary" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "$0: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
cat > "$root/DEBIAN/control" <<CONTROL
Package: forkhorn
Version: $version
Architecture: $arch
Maintainer: forkhorn authors <forkhorn@localhost>
Installed-Size: $installed_kb
Depends: $depends
Recommends: logrotate
Section: httpd
Priority: optional
Homepage: https://github.com/forkhorn/forkhorn
Description: pre-fork HTTP server with the WSGI start_response/write protocol
 A master process binds the listening sockets and supervises worker processes,
 each running an event loop that parses HTTP/1.1 and calls the application.
 Runs as a systemd service (Type=notify, socket activation, watchdog), with
 rotated logs and workers dropped to an unprivileged user.
CONTROL
cat > "$root/DEBIAN/conffiles" <<CONFFILES
/etc/forkhorn/forkhorn.toml
/etc/logrotate.d/forkhorn
CONFFILES
# The units are not enabled on install: the administrator chooses between the service alone and
# socket activation.
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
POSTINST
cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"

dpkg-deb --root-owner-group --build "$root" "$out/$name.deb" >/dev/null
rm -rf "$root"
echo "$out/$name.deb"
