"""Catalog: categories, product models, SKUs and assortment rules."""
