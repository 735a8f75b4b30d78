"""The typed, value-free error for settings that refuse what their secrets hold.

pydantic's ``ValidationError`` shows each input value in its message (unless the model
sets ``hide_input_in_errors``) and keeps it in ``errors()``; pydantic-settings'
``SettingsError`` chains the decoder's error, whose ``doc`` is the whole document. Both
are turned into a ``SettingsValidationError`` that names locations and error types only,
built outside any ``except`` block so neither is its ``__cause__`` or ``__context__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...exceptions import SecretFormatError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic import ValidationError
    from pydantic_settings import SettingsError

__all__ = ["SettingsValidationError", "from_settings_error", "from_validation_error"]


class SettingsValidationError(SecretFormatError):
    """A settings model refused the values its secrets hold: where and why, never what.

    ``errors`` lists one ``{"loc": (...), "type": "..."}`` per problem, as pydantic's
    ``ValidationError.errors()`` would without the input, message, context and URL;
    ``settings`` names the model class.
    """

    def __init__(
        self,
        message: str,
        *,
        settings: str = "",
        errors: tuple[dict[str, Any], ...] = (),
        **context: Any,
    ) -> None:
        super().__init__(message, code="SettingsValidation", **context)
        self.settings = settings
        self.errors = errors


def _location(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "(model)"


def from_validation_error(settings: str, exc: ValidationError) -> SettingsValidationError:
    """Return the value-free twin of a pydantic ValidationError."""
    errors = tuple(
        {"loc": tuple(error["loc"]), "type": error["type"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    )
    listed = "; ".join(f"{_location(e['loc'])}: {e['type']}" for e in errors)
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    return SettingsValidationError(
        f"{settings} refused the values from its sources ({count}: {listed})",
        settings=settings,
        errors=errors,
    )


def from_settings_error(settings: str, exc: SettingsError) -> SettingsValidationError:
    """Return the value-free twin of pydantic-settings' SettingsError (its cause dropped)."""
    # pydantic-settings' messages name the field and the source, never the value; the
    # chained decoder error is what holds the document, and it is not carried over.
    return SettingsValidationError(
        f"{settings} could not parse a value from its sources: {exc}", settings=settings
    )
