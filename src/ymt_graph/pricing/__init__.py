"""Price centre: guide retail prices, supply price lists, price limits, violations."""
