"""The public surface: __all__ sorted and complete, the names DESIGN.md promises."""

from __future__ import annotations

import math
import types

import pytest

import secretcache
import secretcache.exceptions
import secretcache.testing
from secretcache import SecretCache
from secretcache.testing import FakeClock, InMemorySource

PROMISED = {
    "SecretCache",
    "inject_secret",
    "default_cache",
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "Secret",
    "RotationEvent",
    "CacheStats",
    "ExtensionSource",
    "SecretCacheError",
    "SecretNotFoundError",
    "SecretAccessDeniedError",
    "SecretDeletedError",
    "SecretDecryptionError",
    "InvalidSecretRequestError",
    "SecretCredentialsError",
    "SecretsManagerUnavailableError",
    "SecretsManagerThrottledError",
    "SecretFormatError",
    "SecretFieldError",
    "__version__",
}


def _public_names(module: types.ModuleType) -> set[str]:
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", module.__name__).startswith("secretcache")
    }
    # Names the package imports when first asked for (PEP 562 __getattr__).
    lazy = {
        name
        for name in getattr(module, "__all__", ())
        if name not in vars(module)
        and getattr(getattr(module, name), "__module__", "").startswith("secretcache")
    }
    return defined | lazy


def test_all_is_sorted_unique_and_complete() -> None:
    names = secretcache.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    assert set(names) == _public_names(secretcache) | {"__version__"}
    for name in names:
        assert hasattr(secretcache, name)


def test_the_promised_names_are_public() -> None:
    assert set(secretcache.__all__) >= PROMISED


def test_submodules_export_what_they_define() -> None:
    for module in (secretcache.exceptions, secretcache.testing):
        assert module.__all__ == sorted(module.__all__)
        defined = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
        }
        # Served when first asked for (PEP 562): the emulator costs no http.server at import.
        lazy = {name for name in module.__all__ if name not in vars(module)}
        assert all(hasattr(module, name) for name in lazy)
        assert set(module.__all__) == defined | lazy


def test_the_extension_sources_are_public_and_cost_nothing_until_asked_for() -> None:
    import secretcache.aio

    assert "AsyncExtensionSource" in secretcache.aio.__all__
    assert secretcache.aio.AsyncExtensionSource.__module__.startswith("secretcache")
    assert "ExtensionEmulator" in secretcache.testing.__all__


def test_version_is_a_string() -> None:
    assert isinstance(secretcache.__version__, str)
    assert secretcache.__version__.count(".") >= 1


# -- misuse of the API raises plain TypeError/ValueError at once ---------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"ttl": -1}, ValueError),
        ({"ttl": math.nan}, ValueError),
        ({"ttl": math.inf}, ValueError),
        ({"ttl": "300"}, TypeError),
        ({"ttl": True}, TypeError),
        ({"jitter": 1.0}, ValueError),
        ({"jitter": -0.1}, ValueError),
        ({"max_size": 0}, ValueError),
        ({"max_size": 1.5}, TypeError),
        ({"max_stale": -1}, ValueError),
        ({"max_stale": math.nan}, ValueError),
        ({"revalidate": "head"}, ValueError),
        ({"clock": 3}, TypeError),
        ({"on_rotation": "x"}, TypeError),
        ({"refresh_ahead": "yes"}, TypeError),
        ({"client": object(), "session": object()}, TypeError),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    kwargs.setdefault("source", None)
    if "client" in kwargs:
        kwargs.pop("source")
    with pytest.raises(error):
        SecretCache(**kwargs)  # type: ignore[arg-type]


def test_ttl_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    source = InMemorySource({"s": "v"})
    clock = FakeClock()
    monkeypatch.setenv("SECRETCACHE_TTL", "5")
    cache = SecretCache(source=source, clock=clock, jitter=0)
    cache.get_secret("s")
    clock.advance(5.1)
    cache.get_secret("s")
    assert source.calls["GetSecretValue"] == 2
    monkeypatch.setenv("SECRETCACHE_TTL", "soon")
    with pytest.raises(ValueError, match="SECRETCACHE_TTL"):
        SecretCache(source=source)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.get_secret(""), ValueError),
        (lambda c: c.get_secret("   "), ValueError),
        (lambda c: c.get_secret(None), TypeError),
        (lambda c: c.get_secret(["s"]), TypeError),
        (lambda c: c.get_secret("a\nb"), ValueError),
        (lambda c: c.get_secret("x" * 3000), ValueError),
        (lambda c: c.get_secret_string(123), TypeError),
        (lambda c: c.get_secret_binary("s", ""), ValueError),
        (lambda c: c.get_secret_json("s", None), TypeError),
        (lambda c: c.get_secret("s", version_id="short"), ValueError),
        (lambda c: c.get_secret("s", version_id=7), TypeError),
        (lambda c: c.get_secret_field("s", 3), TypeError),
        (lambda c: c.refresh(""), ValueError),
        (lambda c: c.invalidate(5), TypeError),
        (lambda c: c.rotation_candidate("s", None), TypeError),
        (lambda c: c.on_rotation(None), TypeError),
    ],
)
def test_bad_method_arguments(call: object, error: type[Exception]) -> None:
    source = InMemorySource({"s": "v"})
    cache = SecretCache(source=source, clock=FakeClock())
    with pytest.raises(error):
        call(cache)  # type: ignore[operator]
    assert source.calls == {}  # rejected before any API call


@pytest.mark.parametrize("read", ["get_secret", "get_secret_string", "get_secret_json"])
def test_an_unhashable_id_gets_the_clear_error(read: str) -> None:
    cache = SecretCache(source=InMemorySource({"s": "{}"}), clock=FakeClock())
    cache.get_secret("s")  # a warm cache: the hit path sees the bad id first
    with pytest.raises(TypeError, match="secret_id must be a str"):
        getattr(cache, read)(["s"])


def _loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the ``modules`` (or their submodules) loaded."""
    import json
    import subprocess
    import sys

    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return [m for m in loaded if any(m == x or m.startswith(f"{x}.") for x in modules)]


def test_a_cache_without_fallbacks_never_imports_the_failover_machinery() -> None:
    failover = ("secretcache._core.regions", "secretcache._sources.failover", "secretcache.aio")
    assert _loaded_after("import secretcache; secretcache.SecretCache()", failover) == []


def test_import_secretcache_never_imports_opentelemetry() -> None:
    # The otel extra is imported by secretcache.integrations.opentelemetry alone, even
    # though a cache's loads set the context its tracing reads (secretcache._core.observe).
    code = (
        "import secretcache, secretcache.testing as t\n"
        "c = secretcache.SecretCache(source=t.InMemorySource({'s': 'v'}))\n"
        "c.get_secret('s'); c.refresh('s'); c.prefetch(['s'])"
    )
    assert _loaded_after(code, ("opentelemetry",)) == []
