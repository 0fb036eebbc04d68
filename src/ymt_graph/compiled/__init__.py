"""The compiled read path: a GraphQL query answered by one SQL statement whose result is the
response's ``data``, built as JSON by PostgreSQL.

``core`` walks a validated operation and asks each compilable type (``catalog``, ``pricing``,
``inventory``, …: one module per centre) for the SQL of the fields selected; ``runner`` caches
the statement per (document, operation, principal, shape of the variables) and runs it as a
prepared statement. An operation with any field no module knows takes the resolver path,
which stays the reference: ``tests/compiled`` proves both answer byte for byte the same.
"""
