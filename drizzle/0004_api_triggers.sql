CREATE TABLE `backfills` (
	`id` text PRIMARY KEY NOT NULL,
	`flow_id` text NOT NULL,
	`cron` text NOT NULL,
	`timezone` text,
	`from` integer NOT NULL,
	`to` integer NOT NULL,
	`concurrency` integer NOT NULL,
	`run_count` integer NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `cursors` (
	`name` text PRIMARY KEY NOT NULL,
	`event_id` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `flow_triggers` (
	`target_flow_id` text NOT NULL,
	`idx` integer NOT NULL,
	`source_flow_id` text NOT NULL,
	`on` text NOT NULL,
	`task` text,
	`asset` text,
	`inputs` text NOT NULL,
	PRIMARY KEY(`target_flow_id`, `idx`)
);
--> statement-breakpoint
CREATE INDEX `flow_triggers_source` ON `flow_triggers` (`source_flow_id`);--> statement-breakpoint
CREATE TABLE `schedules` (
	`flow_id` text NOT NULL,
	`key` text NOT NULL,
	`cron` text NOT NULL,
	`timezone` text,
	`missed` text NOT NULL,
	`params` text NOT NULL,
	`next_fire_at` integer NOT NULL,
	`last_fire_at` integer,
	PRIMARY KEY(`flow_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `schedules_due` ON `schedules` (`next_fire_at`);--> statement-breakpoint
ALTER TABLE `runs` ADD `logical_time` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `dedupe_key` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `backfill_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `runs_dedupe` ON `runs` (`flow_id`,`dedupe_key`);--> statement-breakpoint
CREATE INDEX `runs_backfill` ON `runs` (`backfill_id`,`state`);