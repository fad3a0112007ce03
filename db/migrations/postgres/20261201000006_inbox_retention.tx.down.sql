DROP INDEX inbox_delivered_idx;
