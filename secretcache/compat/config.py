"""SecretCacheConfig: the settings object of aws-secretsmanager-caching, same names."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .cache.secret_cache_hook import SecretCacheHook

__all__ = ["SecretCacheConfig"]


class SecretCacheConfig:
    """Settings for a compat ``SecretCache``: keyword arguments named as the official ones.

    ``max_cache_size``: how many secrets (and, separately, how many secret values) are
    kept; ``exception_retry_delay_base`` / ``exception_retry_growth_factor`` /
    ``exception_retry_delay_max``: after a failed request, wait ``base * growth**n``
    seconds (at most ``max``) before asking again; ``default_version_stage``: the stage
    read when none is given; ``secret_refresh_interval``: seconds between
    DescribeSecret checks of a secret, each drawn from [interval/2, interval];
    ``secret_cache_hook``: a ``SecretCacheHook`` applied to what is stored and read.
    An unknown keyword raises TypeError. Values are checked when a ``SecretCache`` is
    built from the config.
    """

    OPTION_DEFAULTS: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {
            "max_cache_size": 1024,
            "exception_retry_delay_base": 1,
            "exception_retry_growth_factor": 2,
            "exception_retry_delay_max": 3600,
            "default_version_stage": "AWSCURRENT",
            "secret_refresh_interval": 3600,
            "secret_cache_hook": None,
        }
    )

    max_cache_size: int
    exception_retry_delay_base: float
    exception_retry_growth_factor: float
    exception_retry_delay_max: float
    default_version_stage: str
    secret_refresh_interval: float
    secret_cache_hook: SecretCacheHook | None

    def __init__(self, **kwargs: Any) -> None:
        for name in kwargs:
            if name not in self.OPTION_DEFAULTS:
                raise TypeError(f"Unexpected keyword argument {name}")
        for name, default in self.OPTION_DEFAULTS.items():
            setattr(self, name, kwargs.get(name, default))

    def __repr__(self) -> str:
        options = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self.OPTION_DEFAULTS
            if name != "secret_cache_hook"
        )
        hook = self.secret_cache_hook
        shown = "None" if hook is None else f"<{type(hook).__name__}>"
        return f"SecretCacheConfig({options}, secret_cache_hook={shown})"
