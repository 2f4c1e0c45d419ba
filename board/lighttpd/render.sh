#!/usr/bin/env bash
# Renders lighttpd.conf.in. Usage: render.sh BIND PORT WEBROOT SOCKET STATEDIR > lighttpd.conf
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: $0 BIND PORT WEBROOT SOCKET STATEDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
esc() { printf '%s' "$1" | sed -e 's/[\/&|]/\\&/g'; }
sed -e "s|@BIND@|$(esc "$1")|g" -e "s|@PORT@|$(esc "$2")|g" -e "s|@WEBROOT@|$(esc "$3")|g" \
    -e "s|@SOCKET@|$(esc "$4")|g" -e "s|@STATEDIR@|$(esc "$5")|g" "$here/lighttpd.conf.in"
