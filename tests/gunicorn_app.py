"""A WSGI app as gunicorn --preload runs it: the cache is built and used in the master.

``GET /<secret id>`` answers the secret's value (the stand-in endpoint's values are not
secret: they name their secret, so a worker that read another's answer shows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from secretcache import SecretCache, SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

cache = SecretCache()  # module level, the default client
cache.get_secret_string("warm-up")  # in the master: a pooled keep-alive connection


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer the value of the secret named by the path."""
    secret_id = str(environ.get("PATH_INFO", "/")).lstrip("/")
    try:
        body = cache.get_secret_string(secret_id)
    except SecretCacheError as exc:
        body = f"error: {type(exc).__name__}"
    payload = body.encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))]
    start_response("200 OK", headers)
    return [payload]
