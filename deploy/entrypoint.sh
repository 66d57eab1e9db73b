#!/bin/sh
# Container entry point: `entrypoint.sh web|worker|scheduler|release|dashboard` runs that line of
# the Procfile, so the image and the Procfile can never disagree. Anything else runs as given,
# e.g. `entrypoint.sh flask --app proxyapp users list`.
set -eu
cd "$(dirname "$0")/.."
if [ "$#" -eq 1 ] && expr "$1" : '[a-z][a-z_-]*$' >/dev/null; then
    line=$(sed -n "s/^$1: //p" Procfile)
    if [ -n "$line" ]; then
        exec sh -c "exec $line"
    fi
fi
exec "$@"
