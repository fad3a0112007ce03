#!/bin/sh
# One-shot (temporalio/admin-tools): creates or updates Temporal's schema on Postgres. Every step is
# idempotent, so it runs on every `docker compose up` and applies the schema updates of a newer server.
set -eu

: "${POSTGRES_SEEDS:=postgres}" "${DB_PORT:=5432}" "${SQL_USER:=temporal}"
export SQL_PASSWORD
schema=/etc/temporal/schema/postgresql/v12

sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$SQL_USER" "$@"; }

for db in temporal temporal_visibility; do
	dir=temporal
	[ "$db" = temporal_visibility ] && dir=visibility
	echo "temporal-schema: $db"
	sql --db "$db" create
	sql --db "$db" setup-schema -v 0.0
	sql --db "$db" update-schema -d "$schema/$dir/versioned"
done
echo "temporal-schema: done"
