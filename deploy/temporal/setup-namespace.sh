#!/bin/sh
# temporal-setup (one-shot, temporalio/admin-tools): wait for the Temporal server, make sure
# the namespace exists with the configured retention, and register the custom search
# attributes that Parcours' workflows upsert. Safe to run again: an existing namespace is
# updated, an attribute that already exists with the same type is accepted by the server,
# one that exists with another type fails this job (fix it by hand, never silently).
#
# Environment:
#   TEMPORAL_ADDRESS              host:port of the frontend (temporal:7233)
#   TEMPORAL_NAMESPACE            the namespace the API and workers use (default)
#   TEMPORAL_NAMESPACE_RETENTION  how long closed workflow histories are kept (30d)
#   PARCOURS_SEARCH_ATTRIBUTES    space-separated Name=Type pairs; the list must match
#                                 cli/temporal_server.py::SEARCH_ATTRIBUTES
set -eu
set -f  # no globbing: the lists below are split on spaces only

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
: "${PARCOURS_SEARCH_ATTRIBUTES:?PARCOURS_SEARCH_ATTRIBUTES is required}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-30d}"
MAX_ATTEMPTS="${SETUP_MAX_ATTEMPTS:-60}"
SLEEP_SECONDS="${SETUP_SLEEP_SECONDS:-3}"

retry() {
    what="$1"
    shift
    attempt=1
    until "$@"; do
        if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then
            echo "$what: still failing after $MAX_ATTEMPTS attempts; giving up." >&2
            return 1
        fi
        echo "$what: not yet ($attempt/$MAX_ATTEMPTS), retrying in ${SLEEP_SECONDS}s..."
        attempt=$((attempt + 1))
        sleep "$SLEEP_SECONDS"
    done
}

cluster_healthy() {
    temporal operator cluster health --address "$TEMPORAL_ADDRESS"
}

ensure_namespace() {
    if temporal operator namespace describe --namespace "$NAMESPACE" \
        --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
        temporal operator namespace update --namespace "$NAMESPACE" \
            --retention "$RETENTION" --address "$TEMPORAL_ADDRESS"
    else
        temporal operator namespace create --namespace "$NAMESPACE" \
            --retention "$RETENTION" --address "$TEMPORAL_ADDRESS"
    fi
}

create_search_attributes() {
    # shellcheck disable=SC2086 # word splitting of the Name=Type list is intended
    set -- $PARCOURS_SEARCH_ATTRIBUTES
    args=""
    for pair in "$@"; do
        args="$args --name ${pair%%=*} --type ${pair#*=}"
    done
    # shellcheck disable=SC2086
    temporal operator search-attribute create --namespace "$NAMESPACE" \
        --address "$TEMPORAL_ADDRESS" $args
}

search_attributes_listed() {
    listed="$(temporal operator search-attribute list --namespace "$NAMESPACE" \
        --address "$TEMPORAL_ADDRESS")" || return 1
    for pair in $PARCOURS_SEARCH_ATTRIBUTES; do
        printf '%s\n' "$listed" | grep -qw "${pair%%=*}" || return 1
    done
}

retry "Temporal cluster health" cluster_healthy
retry "Namespace $NAMESPACE (retention $RETENTION)" ensure_namespace
# A namespace just created takes a few seconds to reach every frontend's cache.
retry "Search attributes $PARCOURS_SEARCH_ATTRIBUTES" create_search_attributes
retry "Search attributes listed" search_attributes_listed
echo "Namespace $NAMESPACE is ready (retention $RETENTION; search attributes" \
    "$PARCOURS_SEARCH_ATTRIBUTES)."
