-- An export of known channels (POST /v1/exports with channelIds) looks each ID up with its status and name, which
-- the filters read: with them in the index the lookup reads no table row (docs/benchmarks.md, "Validation": the
-- export of 10,000 known channels takes half the CPU it took through the primary key). SQLite only: on Postgres
-- the route was within its target already, and the index was not measured there.
CREATE INDEX channels_export_idx ON channels (tenant_id, id, status, name);
