#!/usr/bin/env bash
# Checks a package built by build.sh: exactly the expected files, with the expected modes and
# conffiles, and a man page that is roff.
#
#   packaging/debian/check.sh PATH.deb
set -euo pipefail
deb="$1"
expected=$(cat <<'LIST'
-rw-r--r-- ./etc/forkhorn/forkhorn.toml
-rw-r--r-- ./etc/logrotate.d/forkhorn
-rw-r--r-- ./lib/systemd/system/forkhorn.service
-rw-r--r-- ./lib/systemd/system/forkhorn.socket
-rwxr-xr-x ./usr/bin/forkhorn
-rw-r--r-- ./usr/share/doc/forkhorn/README.md
-rw-r--r-- ./usr/share/doc/forkhorn/copyright
-rw-r--r-- ./usr/share/doc/forkhorn/forkhorn.toml.example
-rw-r--r-- ./usr/share/man/man1/forkhorn.1.gz
LIST
)
# `dpkg-deb -c` prints: MODE OWNER/GROUP SIZE DATE TIME PATH; files only, sorted.
actual=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $1, $6 }' | sort -k2)
if [ "$actual" != "$expected" ]; then
	echo "$deb: unexpected file list" >&2
	diff <(echo "$expected") <(echo "$actual") >&2 || true
	exit 1
fi
if dpkg-deb -c "$deb" | awk '{ print $2 }' | grep -qv '^root/root$'; then
	echo "$deb: files not owned by root" >&2
	exit 1
fi
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
[ "$conffiles" = "$(printf '/etc/forkhorn/forkhorn.toml\n/etc/logrotate.d/forkhorn')" ] || {
	echo "$deb: conffiles are: $conffiles" >&2
	exit 1
}
[ "$(dpkg-deb -f "$deb" Package)" = forkhorn ] || { echo "$deb: wrong Package" >&2; exit 1; }
man=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/man/man1/forkhorn.1.gz | gzip -dc)
grep -q '^\.TH forkhorn 1' <<<"$man" || { echo "$deb: the man page has no .TH header" >&2; exit 1; }
echo "$deb: ok"
