CREATE TABLE "feature_meta" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "post_features" (
	"post_id" integer PRIMARY KEY NOT NULL,
	"topic_code" smallint NOT NULL,
	"text_cluster" smallint NOT NULL,
	"text_len" integer NOT NULL,
	"text_vec" real[] NOT NULL,
	"views_by_day" integer[] NOT NULL,
	"likes_by_day" integer[] NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_features" (
	"user_id" integer PRIMARY KEY NOT NULL,
	"gender" smallint NOT NULL,
	"age" smallint NOT NULL,
	"country_code" smallint NOT NULL,
	"city_rank" integer NOT NULL,
	"exp_group" smallint NOT NULL,
	"os_code" smallint NOT NULL,
	"source_code" smallint NOT NULL,
	"views_by_day" integer[] NOT NULL,
	"liked_post_ids" integer[] NOT NULL,
	"liked_at" integer[] NOT NULL
);
