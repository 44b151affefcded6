-- CreateIndex
CREATE INDEX "credits_referenceId_referenceType_idx" ON "credits"("referenceId", "referenceType");

-- CreateIndex
CREATE INDEX "credits_paymentId_idx" ON "credits"("paymentId");
