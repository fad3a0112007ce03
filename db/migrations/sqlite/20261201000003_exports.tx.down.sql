DROP INDEX channels_tenant_id_idx;
DROP TABLE exports;
