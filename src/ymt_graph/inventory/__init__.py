"""Inventory centre: stock levels, append-only movements, reservations, transfers, serial units."""
