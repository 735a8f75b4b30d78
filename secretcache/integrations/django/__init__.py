"""Django database backends that log in with a rotating secret (extra ``django``).

``ENGINE = "secretcache.integrations.django.postgresql"``: see that package.
"""
