"""arq jobs: each is a thin call into a domain service."""
