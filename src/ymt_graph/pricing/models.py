"""Tables of the price centre."""
