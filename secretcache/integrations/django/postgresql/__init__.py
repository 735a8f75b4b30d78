"""Django's PostgreSQL backend, with credentials from a rotating Secrets Manager secret.

::

    DATABASES = {
        "default": {
            "ENGINE": "secretcache.integrations.django.postgresql",
            "SECRET_ID": "prod/app/postgres",
            "SECRET_CACHE": cache,  # optional: a SecretCache; default secretcache.default_cache()
            "CONN_MAX_AGE": 60,
        }
    }

Every new connection reads the secret (RDS JSON shape) through the cache: username and
password always come from it; NAME, HOST and PORT too unless set. Every other key is
Django's own postgresql backend's. A login refused for its credentials recovers through
``rotation_candidate``. Django imports ``DatabaseWrapper`` from the ``base`` module.
"""
