#!/bin/sh
# Initialise the data folder on first start when IDNODE_PREFIX is given, then run idnode.
# IDNODE_ADMIN_SECRET sets the node admin's secret (otherwise one is made and printed once).
set -eu
if [ "${1:-serve}" = "serve" ] && [ -n "${IDNODE_PREFIX:-}" ] && [ ! -f "${IDNODE_DATA}/data.mdb" ]; then
    if [ -n "${IDNODE_ADMIN_SECRET:-}" ]; then
        idnode init --prefix "$IDNODE_PREFIX" --admin-secret "$IDNODE_ADMIN_SECRET"
    else
        idnode init --prefix "$IDNODE_PREFIX"
    fi
fi
exec idnode "$@"
