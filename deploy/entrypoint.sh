#!/bin/sh
# The image's entrypoint: `duragraph-entrypoint serve ...` / `duragraph-entrypoint worker ...`.
#
# Secrets mounted as files (Docker/compose secrets, Kubernetes secret volumes) become the variables
# DuraGraph Lab reads, so that they never appear in the compose file or the process list:
#   JUPYTER_TOKEN_FILE              -> JUPYTER_TOKEN (the API server's token)
#   DURAGRAPH_TOKEN_FILE            -> DURAGRAPH_TOKEN (a worker's token for --server)
#   DURAGRAPH_DATABASE_URL_FILE     -> DURAGRAPH_DATABASE_URL
#   DURAGRAPH_DATABASE_PASSWORD_FILE -> PGPASSWORD (libpq's and asyncpg's password when the URL has none)
#   DURAGRAPH_NATS_URL_FILE         -> DURAGRAPH_NATS_URL
#   DURAGRAPH_NATS_TOKEN_FILE       -> the NATS token, put into every nats:// URL of DURAGRAPH_NATS_URL
#                                      that has none (letters, digits, '-' and '_' only)
set -eu

from_file() {
    # $1: the variable to set, $2: the name of the variable holding the file's path
    eval "path=\${$2:-}"
    if [ -n "$path" ]; then
        if [ ! -r "$path" ]; then
            echo "duragraph-entrypoint: error: $2=$path is not a readable file" >&2
            exit 1
        fi
        value=$(cat "$path")
        export "$1=$value"
        unset "$2"
    fi
}

from_file JUPYTER_TOKEN JUPYTER_TOKEN_FILE
from_file DURAGRAPH_TOKEN DURAGRAPH_TOKEN_FILE
from_file DURAGRAPH_DATABASE_URL DURAGRAPH_DATABASE_URL_FILE
from_file PGPASSWORD DURAGRAPH_DATABASE_PASSWORD_FILE
from_file DURAGRAPH_NATS_URL DURAGRAPH_NATS_URL_FILE
from_file nats_token DURAGRAPH_NATS_TOKEN_FILE

if [ -n "${nats_token:-}" ]; then
    case "$nats_token" in
        *[!A-Za-z0-9_-]*)
            echo "duragraph-entrypoint: error: the NATS token may hold only letters, digits, '-' and '_'" >&2
            exit 1 ;;
    esac
    DURAGRAPH_NATS_URL=$(printf '%s' "${DURAGRAPH_NATS_URL:-}" | sed -E "s#nats://([^@,]*(,|\$))#nats://${nats_token}@\1#g")
    export DURAGRAPH_NATS_URL
    unset nats_token
fi

exec duragraph-lab "$@"
