"""Organization: tenants, regions, dealers (a tree), stores, warehouses, users, API keys."""
