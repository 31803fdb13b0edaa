"""Drift: whether what the bot sees now (intent confidence, fallbacks, moods, clicks) has
moved away from a reference period, by PSI and a two-sample test per signal."""
