CREATE TABLE `assets` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`task_id` text,
	`instance_idx` integer,
	`name` text NOT NULL,
	`size` integer NOT NULL,
	`sha256` text NOT NULL,
	`media_type` text NOT NULL,
	`location` text NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `assets_lineage` ON `assets` (`run_id`,`task_id`,`instance_idx`,`name`);--> statement-breakpoint
CREATE TABLE `attempts` (
	`instance_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`worker` text NOT NULL,
	`outcome` text NOT NULL,
	`error_kind` text,
	`error` text,
	`log` text DEFAULT '' NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer NOT NULL,
	PRIMARY KEY(`instance_id`, `attempt`),
	FOREIGN KEY (`instance_id`) REFERENCES `instances`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `component_versions` (
	`name` text NOT NULL,
	`version` text NOT NULL,
	`digest` text NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	PRIMARY KEY(`name`, `version`),
	FOREIGN KEY (`digest`) REFERENCES `components`(`digest`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `components` (
	`digest` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`contract` text NOT NULL,
	`has_plan` integer DEFAULT false NOT NULL,
	`manifest` text,
	`imports` text NOT NULL,
	`exports` text NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` text NOT NULL,
	`task_id` text,
	`type` text NOT NULL,
	`data` text,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_run` ON `events` (`run_id`,`id`);--> statement-breakpoint
CREATE TABLE `flow_revisions` (
	`flow_id` text NOT NULL,
	`revision` integer NOT NULL,
	`source` text NOT NULL,
	`spec` text NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	PRIMARY KEY(`flow_id`, `revision`)
);
--> statement-breakpoint
CREATE TABLE `flows` (
	`id` text PRIMARY KEY NOT NULL,
	`revision` integer NOT NULL,
	`deleted` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `instances` (
	`id` text PRIMARY KEY NOT NULL,
	`task_run_id` text NOT NULL,
	`run_id` text NOT NULL,
	`idx` integer NOT NULL,
	`state` text NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`available_at` integer DEFAULT 0 NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`partition` text NOT NULL,
	`progress` real DEFAULT 0 NOT NULL,
	`error_kind` text,
	`error` text,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`task_run_id`) REFERENCES `task_runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `instances_task_idx` ON `instances` (`task_run_id`,`idx`);--> statement-breakpoint
CREATE INDEX `instances_claim` ON `instances` (`state`,`available_at`);--> statement-breakpoint
CREATE INDEX `instances_run` ON `instances` (`run_id`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`flow_id` text NOT NULL,
	`revision` integer NOT NULL,
	`state` text NOT NULL,
	`params` text NOT NULL,
	`trigger` text NOT NULL,
	`error` text,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`started_at` integer,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `runs_state` ON `runs` (`state`);--> statement-breakpoint
CREATE INDEX `runs_flow` ON `runs` (`flow_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `task_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`task_id` text NOT NULL,
	`state` text NOT NULL,
	`instance_count` integer,
	`policy` text,
	`inputs` text,
	`succeeded_count` integer DEFAULT 0 NOT NULL,
	`error` text,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `task_runs_run_task` ON `task_runs` (`run_id`,`task_id`);