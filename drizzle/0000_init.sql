CREATE SCHEMA "checker";
--> statement-breakpoint
CREATE TABLE "feed_data" (
	"timestamp" timestamp,
	"user_id" integer,
	"post_id" integer,
	"action" text,
	"target" smallint
);
--> statement-breakpoint
CREATE TABLE "post_text_df" (
	"post_id" integer PRIMARY KEY NOT NULL,
	"text" text,
	"topic" text
);
--> statement-breakpoint
CREATE TABLE "user_data" (
	"user_id" integer PRIMARY KEY NOT NULL,
	"gender" integer,
	"age" integer,
	"country" text,
	"city" text,
	"exp_group" integer,
	"os" text,
	"source" text
);
--> statement-breakpoint
CREATE TABLE "checker"."world_info" (
	"id" integer PRIMARY KEY NOT NULL,
	"seed" bigint NOT NULL,
	"scale" text NOT NULL,
	"generator_version" integer NOT NULL,
	"params" jsonb NOT NULL,
	"created_at" timestamp DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "feed_data_user_time_idx" ON "feed_data" USING btree ("user_id","timestamp");