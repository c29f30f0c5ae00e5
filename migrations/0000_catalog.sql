CREATE TABLE `__quiver_columns` (
	`table_name` text NOT NULL,
	`name` text NOT NULL,
	`position` integer NOT NULL,
	`declared_type` text,
	`vector_dims` integer,
	`definition` text NOT NULL,
	`generated_expr` text,
	`generated_storage` text,
	`not_null` integer DEFAULT false NOT NULL,
	`default_expr` text,
	`primary_key` integer DEFAULT false NOT NULL,
	`auto_increment` integer DEFAULT false NOT NULL,
	`comment` text,
	PRIMARY KEY(`table_name`, `name`)
);
--> statement-breakpoint
CREATE TABLE `__quiver_tables` (
	`name` text PRIMARY KEY NOT NULL,
	`comment` text,
	`options` text DEFAULT '[]' NOT NULL,
	`constraints` text DEFAULT '[]' NOT NULL,
	`without_rowid` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE `__quiver_vector_indexes` (
	`name` text PRIMARY KEY NOT NULL,
	`table_name` text NOT NULL,
	`column_name` text NOT NULL,
	`metric` text NOT NULL,
	`m` integer NOT NULL,
	`ef_construction` integer NOT NULL,
	`options` text DEFAULT '[]' NOT NULL,
	`declared_as` text NOT NULL
);
