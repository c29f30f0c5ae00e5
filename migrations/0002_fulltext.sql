CREATE TABLE `__quiver_fulltext_indexes` (
	`name` text PRIMARY KEY NOT NULL,
	`table_name` text NOT NULL,
	`columns` text NOT NULL
);
