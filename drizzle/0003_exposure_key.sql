ALTER TABLE "exposures" ADD COLUMN "exposure_key" uuid DEFAULT gen_random_uuid() NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "exposures_key_idx" ON "exposures" USING btree ("exposure_key");