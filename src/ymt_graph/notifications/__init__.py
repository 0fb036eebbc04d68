"""Notifications: the outbox, webhooks (signed, retried, logged) and the event bus for subscriptions."""
