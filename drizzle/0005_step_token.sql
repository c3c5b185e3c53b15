ALTER TABLE `instances` ADD `step_token` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `step_token` text;--> statement-breakpoint
ALTER TABLE `schedules` ADD `step_token` text;--> statement-breakpoint
ALTER TABLE `task_runs` ADD `step_token` text;