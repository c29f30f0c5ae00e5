CREATE TABLE `__quiver_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`index_name` text NOT NULL,
	`row_id` integer NOT NULL,
	`op` integer NOT NULL
);
