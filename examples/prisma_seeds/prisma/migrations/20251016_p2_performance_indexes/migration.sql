-- CreateIndex
CREATE INDEX "credits_userId_createdAt_idx" ON "credits"("userId", "createdAt");

-- CreateIndex
CREATE INDEX "credits_createdAt_idx" ON "credits"("createdAt");
