"""The after-sales centre: claims (receipt discrepancies now; returns, warranty and repairs later)."""
