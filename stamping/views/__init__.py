"""HTTP handlers of the stamping service (thin: parse, call a verb, render)."""
