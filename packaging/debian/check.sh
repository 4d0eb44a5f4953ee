#!/usr/bin/env bash
# Checks a package built by build.sh: exactly the expected files, with the expected modes and
# conffiles, and a man page that is roff; then that the binary works on a machine other than the
# builder's: no rpath, Depends naming the libpython it links, and, run from the extracted
# package with root's home and $HOME hidden (empty tmpfs in a mount namespace, `unshare -m`), a
# Python app served by Debian's interpreter (the app reports sys.prefix and the libpython mapped
# into the worker), and a worker user who cannot read the standard library told so in one line.
# Where unshare is not permitted (not root), the app is served with a cleared environment only,
# which proves less: the script says so.
#
#   packaging/debian/check.sh PATH.deb
set -euo pipefail
deb="$1"
fail() {
	echo "$deb: $*" >&2
	exit 1
}
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

scratch=$(mktemp -d /tmp/forkhorn-check.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
dpkg-deb -x "$deb" "$scratch/root"
bin=$scratch/root/usr/bin/forkhorn
if readelf -d "$bin" | grep -E '\((RPATH|RUNPATH)\)' >&2; then
	fail "the binary carries an rpath"
fi
libpython=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(libpython3\.[0-9]*\)\.so.*/\1/p')
[ -n "$libpython" ] || fail "the binary links no libpython"
depends=$(dpkg-deb -f "$deb" Depends)
grep -qE "(^|, )$libpython( |,|$)" <<<"$depends" || fail "Depends ($depends) does not name $libpython"
stdlib=/usr/lib/${libpython#lib}

mkdir "$scratch/app"
cat > "$scratch/app/probe.py" <<'APP'
import sys


def app(environ, start_response):
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split()[-1] for line in maps if "/libpython" in line})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("prefix=%s libpython=%s\n" % (sys.prefix, " ".join(libs))).encode()]
APP
chmod -R a+rX "$scratch"

# Runs the packaged forkhorn with ARGS in the background, from a cleared environment and, where
# permitted, in a mount namespace with root's home, $HOME and the EXTRA directory (if any) on
# empty 0700 tmpfs. Sets $pid (the master's: unshare and sh exec into it); its stderr goes to $log.
hidden=(/root)
case "${HOME:-/}" in / | /root) ;; *) [ -d "$HOME" ] && hidden+=("$HOME") ;; esac
if unshare -m mount -t tmpfs none /root 2>/dev/null; then isolate=yes; else isolate=no; fi
log=$scratch/log
run_packaged() {
	local extra=$1
	shift
	: >"$log"
	if [ "$isolate" = yes ]; then
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin unshare -m sh -ec '
			for dir in $1; do mount -t tmpfs -o mode=0700 none "$dir"; done
			shift
			exec "$@"' sh "${hidden[*]} $extra" "$bin" "$@" 2>"$log" &
	else
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$bin" "$@" 2>"$log" &
	fi
	pid=$!
}

run_packaged "" -w 1 -b 127.0.0.1:0 --chdir "$scratch/app" probe:app
port=
for _ in $(seq 100); do
	port=$(sed -n 's|.*Listening at: http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$log")
	[ -n "$port" ] || ! kill -0 "$pid" 2>/dev/null && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; fail "the packaged forkhorn did not start"; }
# HTTP/1.0 over bash's /dev/tcp: the server closes after the response; the body follows the
# blank line.
body=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' sh "$port" |
	sed '1,/^\r$/d') || { cat "$log" >&2; fail "no response"; }
kill -TERM "$pid"
wait "$pid" || { cat "$log" >&2; fail "the packaged forkhorn did not stop cleanly"; }
case "$body" in
"prefix=/usr libpython=/usr/lib/"*"/$libpython.so.1.0" | "prefix=/usr libpython=/lib/"*"/$libpython.so.1.0") ;;
*) cat "$log" >&2; fail "the app ran with another Python: $body" ;;
esac
if [ "$isolate" = yes ]; then
	echo "$deb: served by Debian's Python with ${hidden[*]} hidden: $body"
else
	echo "$deb: served by Debian's Python ($body); unshare -m is not permitted here, so root's home was not hidden"
fi

# The standard library closed to the worker user (a 0700 tmpfs over it): one line, no CPython dump.
if [ "$isolate" = yes ]; then
	run_packaged "$stdlib" -w 1 -b 127.0.0.1:0 -u nobody --chdir "$scratch/app" probe:app
	status=0
	wait "$pid" || status=$?
	line="Worker failed to boot: cannot start Python: $stdlib is not readable by user nobody (uid $(id -u nobody))"
	if [ "$status" != 3 ] || ! grep -qF "$line" "$log" || grep -q "Python path configuration" "$log"; then
		cat "$log" >&2
		fail "an unreadable standard library: exit status $status, expected 3 and the line: $line"
	fi
	echo "$deb: $stdlib unreadable by nobody: $(grep -o 'cannot start Python: .*' "$log")"
fi
echo "$deb: ok"
