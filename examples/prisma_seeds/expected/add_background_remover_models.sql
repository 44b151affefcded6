-- CreateTable
CREATE TABLE "BackgroundRemovalJob" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "batchId" TEXT,
    "itemIndex" INTEGER,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "originalUrl" TEXT NOT NULL,
    "processedUrl" TEXT,
    "thumbnailUrl" TEXT,
    "originalSize" INTEGER,
    "processedSize" INTEGER,
    "tier" TEXT NOT NULL,
    "aiProvider" TEXT,
    "modelName" TEXT,
    "creditsUsed" INTEGER NOT NULL,
    "pricingType" TEXT NOT NULL DEFAULT 'credit',
    "processingTime" INTEGER,
    "errorMessage" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "BackgroundRemovalJob_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BackgroundRemovalBatch" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "batchId" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "totalImages" INTEGER NOT NULL,
    "processedImages" INTEGER NOT NULL DEFAULT 0,
    "failedImages" INTEGER NOT NULL DEFAULT 0,
    "tier" TEXT NOT NULL,
    "totalCredits" INTEGER NOT NULL,
    "discountPercentage" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "originalPrice" INTEGER NOT NULL,
    "finalPrice" INTEGER NOT NULL,
    "zipUrl" TEXT,
    "zipSize" INTEGER,
    "zipGenerated" BOOLEAN NOT NULL DEFAULT false,
    "startedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "estimatedDuration" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BackgroundRemovalBatch_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BackgroundRemoverSubscription" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "plan" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'active',
    "monthlyPrice" INTEGER NOT NULL,
    "dailyQuota" INTEGER NOT NULL,
    "professionalDailyQuota" INTEGER NOT NULL,
    "allowedTiers" TEXT[],
    "subscribedAt" TIMESTAMP(3) NOT NULL,
    "currentPeriodEnd" TIMESTAMP(3) NOT NULL,
    "nextBillingDate" TIMESTAMP(3),
    "cancelledAt" TIMESTAMP(3),
    "cancelReason" TEXT,
    "autoRenew" BOOLEAN NOT NULL DEFAULT true,
    "lastPaymentId" TEXT,
    "paymentMethod" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BackgroundRemoverSubscription_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BackgroundRemoverSubscriptionUsage" (
    "id" TEXT NOT NULL,
    "subscriptionId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "date" TEXT NOT NULL,
    "tier" TEXT NOT NULL,
    "removalsCount" INTEGER NOT NULL DEFAULT 0,
    "totalCreditsEquivalent" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BackgroundRemoverSubscriptionUsage_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "BackgroundRemovalJob_userId_idx" ON "BackgroundRemovalJob"("userId");
CREATE INDEX "BackgroundRemovalJob_status_idx" ON "BackgroundRemovalJob"("status");
CREATE INDEX "BackgroundRemovalJob_batchId_idx" ON "BackgroundRemovalJob"("batchId");
CREATE INDEX "BackgroundRemovalJob_createdAt_idx" ON "BackgroundRemovalJob"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "BackgroundRemovalBatch_batchId_key" ON "BackgroundRemovalBatch"("batchId");
CREATE INDEX "BackgroundRemovalBatch_userId_idx" ON "BackgroundRemovalBatch"("userId");
CREATE INDEX "BackgroundRemovalBatch_status_idx" ON "BackgroundRemovalBatch"("status");
CREATE INDEX "BackgroundRemovalBatch_createdAt_idx" ON "BackgroundRemovalBatch"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "BackgroundRemoverSubscription_userId_key" ON "BackgroundRemoverSubscription"("userId");
CREATE INDEX "BackgroundRemoverSubscription_status_idx" ON "BackgroundRemoverSubscription"("status");
CREATE INDEX "BackgroundRemoverSubscription_currentPeriodEnd_idx" ON "BackgroundRemoverSubscription"("currentPeriodEnd");

-- CreateIndex
CREATE UNIQUE INDEX "BackgroundRemoverSubscriptionUsage_subscriptionId_date_tier_key" ON "BackgroundRemoverSubscriptionUsage"("subscriptionId", "date", "tier");
CREATE INDEX "BackgroundRemoverSubscriptionUsage_subscriptionId_idx" ON "BackgroundRemoverSubscriptionUsage"("subscriptionId");
CREATE INDEX "BackgroundRemoverSubscriptionUsage_userId_idx" ON "BackgroundRemoverSubscriptionUsage"("userId");
CREATE INDEX "BackgroundRemoverSubscriptionUsage_date_idx" ON "BackgroundRemoverSubscriptionUsage"("date");
CREATE INDEX "BackgroundRemoverSubscriptionUsage_subscriptionId_date_idx" ON "BackgroundRemoverSubscriptionUsage"("subscriptionId", "date");

-- AddForeignKey
ALTER TABLE "BackgroundRemovalJob" ADD CONSTRAINT "BackgroundRemovalJob_batchId_fkey" FOREIGN KEY ("batchId") REFERENCES "BackgroundRemovalBatch"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BackgroundRemoverSubscriptionUsage" ADD CONSTRAINT "BackgroundRemoverSubscriptionUsage_subscriptionId_fkey" FOREIGN KEY ("subscriptionId") REFERENCES "BackgroundRemoverSubscription"("id") ON DELETE CASCADE ON UPDATE CASCADE;
