"""What the incident's own documents state about the reference project.

The seed's debug report lists how many columns each Background Remover table should have
("Expected Output"). Two of those counts are wrong; quoting them lets a report say where
the document errs, while every check uses the models' own counts.
"""

SEED_STATED_COLUMN_COUNTS = {
    "BackgroundRemovalBatch": 18,
    "BackgroundRemovalJob": 19,
    "BackgroundRemoverSubscription": 17,
    "BackgroundRemoverSubscriptionUsage": 9,
}
