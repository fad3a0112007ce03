ALTER TABLE channels ALTER COLUMN name TYPE text COLLATE "default";
