-- CreateIndex
CREATE INDEX "credits_type_idx" ON "credits"("type");
