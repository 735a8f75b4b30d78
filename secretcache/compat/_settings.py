"""Read a SecretCacheConfig once, checking every value (misuse: TypeError/ValueError)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .._core.validate import check_seconds, check_size, check_stage
from .config import SecretCacheConfig

if TYPE_CHECKING:
    from .cache.secret_cache_hook import SecretCacheHook

__all__ = ["Settings", "read_settings"]


class Settings:
    """A checked snapshot of a SecretCacheConfig: later changes to the config don't apply."""

    # A plain slotted class: a NamedTuple costs a third of a millisecond of import time.
    __slots__ = (
        "default_version_stage",
        "hook",
        "max_cache_size",
        "refresh_interval",
        "retry_base",
        "retry_growth",
        "retry_max",
    )

    def __init__(
        self,
        *,
        max_cache_size: int,
        retry_base: float,
        retry_growth: float,
        retry_max: float,
        default_version_stage: str,
        refresh_interval: float,
        hook: SecretCacheHook | None,
    ) -> None:
        self.max_cache_size = max_cache_size
        self.retry_base = retry_base
        self.retry_growth = retry_growth
        self.retry_max = retry_max
        self.default_version_stage = default_version_stage
        self.refresh_interval = refresh_interval
        self.hook = hook


def _seconds(config: SecretCacheConfig, name: str) -> float:
    value = check_seconds(name, getattr(config, name))
    assert value is not None
    return value


def _factor(value: Any) -> float:
    name = "exception_retry_growth_factor"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def _hook(value: Any) -> SecretCacheHook | None:
    if value is not None and not (
        callable(getattr(value, "put", None)) and callable(getattr(value, "get", None))
    ):
        raise TypeError("secret_cache_hook must have put() and get() (see SecretCacheHook)")
    return value  # type: ignore[no-any-return]


def read_settings(config: SecretCacheConfig) -> Settings:
    """Return the checked settings of ``config``."""
    # Duck-typed: the official package's own SecretCacheConfig works too.
    if not all(hasattr(config, name) for name in SecretCacheConfig.OPTION_DEFAULTS):
        raise TypeError(f"config must be a SecretCacheConfig, not {type(config).__name__}")
    return Settings(
        max_cache_size=check_size("max_cache_size", config.max_cache_size),
        retry_base=_seconds(config, "exception_retry_delay_base"),
        retry_growth=_factor(config.exception_retry_growth_factor),
        retry_max=_seconds(config, "exception_retry_delay_max"),
        default_version_stage=check_stage(config.default_version_stage),
        refresh_interval=_seconds(config, "secret_refresh_interval"),
        hook=_hook(config.secret_cache_hook),
    )
