"""Optional integrations with other libraries, each imported only when asked for.

- ``secretcache.integrations.powertools``: a Powertools for AWS Lambda parameters
  provider backed by a ``SecretCache``, and cache statistics as Powertools Metrics
  (extra ``powertools``).

Nothing here is imported by ``import secretcache``.
"""
