"""The managers' console: stalled journeys, interventions on them, partner incidents and the
daily digest."""
