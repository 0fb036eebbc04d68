"""The order centre: carts, orders, their lines and timelines."""
