"""The incident report: the executed runbooks of one incident, written up as the seeds' author
wrote it by hand (summary, evidence chain, timeline, fix, verification, prevention)."""
