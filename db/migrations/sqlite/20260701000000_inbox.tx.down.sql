DROP TABLE conversations;
DROP TABLE inbox;
