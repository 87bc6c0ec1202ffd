#!/usr/bin/env bash
# Runs once, when the compose Postgres starts on an empty volume (docker-entrypoint-initdb.d):
# the application databases of Metabase and Dagster beside the `journey` warehouse. The warehouse's
# own schemas and roles are created by `journey warehouse init` (the dagster service's entrypoint).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<-EOSQL
    create role metabase login password '${METABASE_DB_PASSWORD}';
    create database metabase owner metabase;
    create role dagster login password '${DAGSTER_PG_PASSWORD}';
    create database dagster owner dagster;
EOSQL
