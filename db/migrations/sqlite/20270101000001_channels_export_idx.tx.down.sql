DROP INDEX channels_export_idx;
