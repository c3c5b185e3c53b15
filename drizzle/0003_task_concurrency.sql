ALTER TABLE `task_runs` ADD `concurrency` integer;--> statement-breakpoint
CREATE INDEX `instances_task_state` ON `instances` (`task_run_id`,`state`);