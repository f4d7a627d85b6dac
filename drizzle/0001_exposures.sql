CREATE TABLE "exposures" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "exposures_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"logged_at" timestamp NOT NULL,
	"request_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"exp_group" text NOT NULL,
	"model_version" text NOT NULL,
	"post_ids" integer[] NOT NULL,
	"request_time" timestamp NOT NULL
);
--> statement-breakpoint
CREATE INDEX "exposures_user_idx" ON "exposures" USING btree ("user_id");