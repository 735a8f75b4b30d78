"""Static checks of inject_secret's typing: mypy --strict must accept this file as is.

Never run by pytest as a test module (no test_ prefix); tests/test_decorators.py
runs mypy on it. Each ``# type: ignore[code]`` marks a call mypy must reject:
under --strict an ignore that is no longer needed is itself an error.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from typing_extensions import assert_type

from secretcache import SecretCache, inject_secret

cache = SecretCache()


@inject_secret("prod/db", into="password", field="password", cache=cache)
def connect(host: str, port: int = 5432, *, password: str = "") -> bytes:
    return f"{host}:{port}:{password}".encode()


assert_type(connect("db"), bytes)
assert_type(connect("db", password="explicit"), bytes)
connect(5432)  # type: ignore[arg-type]
connect("db", passwd="x")  # type: ignore[call-arg]


@inject_secret("prod/db", into="creds", transform="json")
async def fetch(query: str, creds: dict[str, str] | None = None) -> list[int]:
    return [len(query)]


pending = fetch("q")
checked_fetch = assert_type(pending, Coroutine[Any, Any, list[int]])


async def use_fetch() -> None:
    assert_type(await fetch("q"), list[int])
    await fetch(1)  # type: ignore[arg-type]


class Repository:
    @inject_secret("prod/api", into="token")
    def call(self, path: str, *, token: str = "") -> int:
        return len(path + token)

    @inject_secret("prod/api", into="token")
    async def acall(self, path: str, *, token: str = "") -> int:
        return len(path + token)


repo = Repository()
assert_type(repo.call("/x"), int)  # self is bound like any method
method_pending = repo.acall("/x")
checked_call = assert_type(method_pending, Coroutine[Any, Any, int])
repo.call()  # type: ignore[call-arg]

inject_secret("prod/db", into="x", transform="yaml")  # type: ignore[arg-type]
inject_secret("prod/db", into="x", refresh_on=(ValueError, OSError))
inject_secret("prod/db", into="x", refresh_on=ValueError)
