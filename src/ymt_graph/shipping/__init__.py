"""The shipping centre: shipments of orders, their tracking events, and the buyer's receipt."""
