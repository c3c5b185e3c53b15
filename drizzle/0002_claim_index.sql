DROP INDEX `instances_claim`;--> statement-breakpoint
CREATE INDEX `instances_claim` ON `instances` (`state`,`available_at`,`id`);