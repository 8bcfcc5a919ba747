"""Outputs read the newest FeatureFrame from the mailbox and never block the analysis."""
