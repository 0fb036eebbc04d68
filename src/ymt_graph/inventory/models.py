"""Tables of the inventory centre."""
