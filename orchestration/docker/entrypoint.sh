#!/usr/bin/env bash
# Container entrypoint: make sure the warehouse contract (schemas, roles, grants) exists, optionally
# serve the simulated shop's API emulators inside the container, then run the given command.
set -euo pipefail

journey warehouse init

if [[ "${JOURNEY_SANDBOX:-1}" == "1" ]]; then
    size="${JOURNEY_SANDBOX_SIZE:-small}"
    if [[ ! -f "$JOURNEY_LOCAL_DIR/sandbox/$size/world.json" ]]; then
        journey sandbox generate --size "$size"
    fi
    # the emulators listen on 127.0.0.1 inside this container, which is where the connectors run
    journey sandbox serve --size "$size" > /tmp/emulators.log 2>&1 &
    for _ in $(seq 1 120); do
        grep -q '^  export ' /tmp/emulators.log 2>/dev/null && break
        sleep 1
    done
    grep -q '^  export ' /tmp/emulators.log || { cat /tmp/emulators.log; exit 1; }
    eval "$(grep '^  export ' /tmp/emulators.log)"
    : "${JOURNEY_AS_OF:=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['end_date'])" \
        "$JOURNEY_LOCAL_DIR/sandbox/$size/world.json")}"
    export JOURNEY_AS_OF
fi

exec "$@"
