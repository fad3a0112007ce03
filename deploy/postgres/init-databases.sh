#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory: one role and database for the
# application (aicc), one role for Temporal, which creates its own databases (temporal, temporal_visibility)
# through temporal-sql-tool in the temporal-schema service.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v aicc_password="$AICC_DB_PASSWORD" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE aicc LOGIN PASSWORD :'aicc_password';
CREATE DATABASE aicc OWNER aicc;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
