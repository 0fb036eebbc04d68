"""The edge: authentication, schema assembly, limits, error shaping, the HTTP view."""
