"""Optional integrations with other libraries, each imported only when asked for.

- ``secretcache.integrations.powertools``: a Powertools for AWS Lambda parameters
  provider backed by a ``SecretCache``, and cache statistics as Powertools Metrics
  (extra ``powertools``).
- ``secretcache.integrations.sqlalchemy``: ``create_engine`` and ``use_secret``, engines
  whose logins use a rotating database secret (extra ``sqlalchemy``).
- ``secretcache.integrations.django.postgresql``: a Django database backend reading the
  DATABASES entry's ``SECRET_ID`` at every new connection (extra ``django``).
- ``secretcache.integrations.psycopg``: ``connect`` and ``connection_class`` (for
  ``psycopg_pool``), and their asyncio twins (extra ``psycopg``).
- ``secretcache.integrations.psycopg_pool``: ``ConnectionPool`` and
  ``AsyncConnectionPool``, whose callers get a refused login at once (extra ``psycopg``).

The database integrations share one login rule (``_gate``, driven by ``_login``): at
most two logins per (cache, secret) in flight, and a login refused for its credentials
retries with ``rotation_candidate``'s answer.

Nothing here is imported by ``import secretcache``.
"""
