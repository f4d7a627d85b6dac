CREATE TABLE "feed_changes" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "feed_changes_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"timestamp" timestamp,
	"user_id" integer,
	"post_id" integer,
	"action" text,
	"target" smallint
);
--> statement-breakpoint
CREATE FUNCTION "feed_data_record_changes"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Bulk loads (world, import) mark the feature tables stale: the next build includes their rows.
  IF coalesce(current_setting('feedrec.bulk_load', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  -- Writers take turns until they commit, so that seq order is commit order: a follower that
  -- read up to seq n can never see a smaller seq commit later.
  LOCK TABLE "feed_changes" IN SHARE ROW EXCLUSIVE MODE;
  INSERT INTO "feed_changes" ("timestamp", "user_id", "post_id", "action", "target")
    SELECT "timestamp", "user_id", "post_id", "action", "target" FROM new_rows;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "feed_data_changes" AFTER INSERT ON "feed_data"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "feed_data_record_changes"();
