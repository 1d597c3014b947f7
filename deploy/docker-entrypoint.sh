#!/bin/sh
# Initialise the data folder on first start when IDNODE_PREFIX is given, then run idnode.
# IDNODE_ADMIN_SECRET sets the node admin's secret (otherwise one is made and printed once).
# IDNODE_DELEGATES (a top-level node): "PREFIX=SECRET PREFIX=SECRET", the secondary nodes' prefixes
# and the secrets of their identities 300:0.NA/PREFIX here, allocated on first start.
# IDNODE_ADVERTISE: the address published in HS_SITE. Unset, it is this container's own address (the
# node listens on 0.0.0.0, which is no address to publish); with `docker run -p`, set it to the
# host's address that clients reach.
set -eu
if [ "${1:-serve}" = "serve" ] && [ -z "${IDNODE_ADVERTISE:-}" ]; then
    IDNODE_ADVERTISE="$(python -c 'import socket; print(socket.gethostbyname(socket.gethostname()))')"
    case "$IDNODE_ADVERTISE" in
        127.*) unset IDNODE_ADVERTISE ;;
        *) export IDNODE_ADVERTISE
           echo "idnode-entrypoint: HS_SITE advertises $IDNODE_ADVERTISE (this container); set IDNODE_ADVERTISE to the address clients reach" >&2 ;;
    esac
fi
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
