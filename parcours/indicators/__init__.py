"""The managers' indicators: each journey's milestones and the time it spent in each step,
kept by the read-model projection so that the indicators are aggregates over small rows."""
