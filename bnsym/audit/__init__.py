"""Audits of the checks themselves: how large an error each check catches (mutants of the closed
forms), and whether the Monte Carlo suite's false alarms keep to the stated rate over many seeds."""
