#!/bin/sh
# temporal-schema (one-shot, temporalio/admin-tools): create Temporal's two databases on its
# own PostgreSQL and bring both schemas to the version that this admin-tools image ships, which
# is the server's version (docker-compose.yml uses one TEMPORAL_VERSION for both images).
#
# Safe to run again: `create` accepts an existing database, `setup-schema -v 0.0` leaves a
# versioned schema alone, `update-schema` applies only the versions not yet applied. This is
# also how an upgrade goes: raise TEMPORAL_VERSION by one minor, then `docker compose up`.
#
# Environment: SQL_HOST, SQL_USER, SQL_PASSWORD (read by temporal-sql-tool itself, so the
# password never appears in a process list), optional SQL_PORT, TEMPORAL_DB,
# TEMPORAL_VISIBILITY_DB.
set -eu

: "${SQL_HOST:?SQL_HOST is required}"
: "${SQL_USER:?SQL_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
export SQL_PASSWORD
SQL_PORT="${SQL_PORT:-5432}"
TEMPORAL_DB="${TEMPORAL_DB:-temporal}"
TEMPORAL_VISIBILITY_DB="${TEMPORAL_VISIBILITY_DB:-temporal_visibility}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

sql_tool() {
    temporal-sql-tool --plugin postgres12 --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" "$@"
}

attempt=1
until nc -z -w 5 "$SQL_HOST" "$SQL_PORT"; do
    if [ "$attempt" -ge 30 ]; then
        echo "PostgreSQL at $SQL_HOST:$SQL_PORT is unreachable; giving up." >&2
        exit 1
    fi
    echo "Waiting for PostgreSQL at $SQL_HOST:$SQL_PORT ($attempt/30)..."
    attempt=$((attempt + 1))
    sleep 2
done

# database name, then schema directory (its `versioned/` folder: pointed at the parent,
# update-schema finds nothing to do and still exits 0).
for target in "$TEMPORAL_DB:temporal" "$TEMPORAL_VISIBILITY_DB:visibility"; do
    db="${target%%:*}"
    schema_dir="$SCHEMA_ROOT/${target#*:}/versioned"
    if [ ! -d "$schema_dir" ]; then
        echo "Schema directory $schema_dir is missing from this admin-tools image." >&2
        exit 1
    fi
    echo "Database $db: create, version, update from $schema_dir"
    sql_tool --db "$db" create
    sql_tool --db "$db" setup-schema -v 0.0
    sql_tool --db "$db" update-schema -d "$schema_dir"
done

echo "Temporal schemas are up to date."
