#!/bin/sh
# Initialise the data folder on first start when IDNODE_PREFIX is given, then run idnode.
# IDNODE_ADMIN_SECRET sets the node admin's secret (otherwise one is made and printed once).
# IDNODE_DELEGATES (a top-level node): "PREFIX=SECRET PREFIX=SECRET", the secondary nodes' prefixes
# and the secrets of their identities 300:0.NA/PREFIX here, allocated on first start.
set -eu
if [ "${1:-serve}" = "serve" ] && [ -n "${IDNODE_PREFIX:-}" ] && [ ! -f "${IDNODE_DATA}/data.mdb" ]; then
    if [ -n "${IDNODE_ADMIN_SECRET:-}" ]; then
        idnode init --prefix "$IDNODE_PREFIX" --admin-secret "$IDNODE_ADMIN_SECRET"
    else
        idnode init --prefix "$IDNODE_PREFIX"
    fi
    for delegate in ${IDNODE_DELEGATES:-}; do
        idnode prefix add "${delegate%%=*}" --secret "${delegate#*=}"
    done
fi
exec idnode "$@"
