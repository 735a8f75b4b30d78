"""AsyncExtensionSource: ``ExtensionSource`` for asyncio, on the standard library's streams.

The same settings and rules (``extension._Settings``, the sans-IO protocol); only the
transport differs: ``asyncio.open_connection``, the request framed by
``Request.encode`` and the answer by ``parse_head``/``framing``. Kept apart from the
blocking source so that a Lambda cold start on it never imports asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from .._core.steps import arun
from .extension import _Settings, _unsupported
from .extension_answers import answer
from .extension_protocol import Request, framing, parse_head

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .._core.models import Secret, SecretMetadata
    from ..exceptions import SecretCacheError
    from .botocore import BatchPage
    from .extension import Step

__all__ = ["AsyncExtensionSource"]


class AsyncExtensionSource(_Settings):
    """An AsyncSecretSource over the Lambda extension or the Agent (asyncio streams).

    The same arguments and rules as ``ExtensionSource``; ``direct`` is an
    AsyncSecretSource (``None``: an aiobotocore one, built on first need). Nothing
    here blocks the event loop, and it works from any number of event loops.
    """

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Read one version through the extension (its own cache may answer)."""
        plan = self._plan(secret_id, version_stage, version_id, past_cache=False)
        return await arun(plan, self._perform)

    async def refresh_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Read one version past the extension's cache: refreshNow, or Secrets Manager."""
        plan = self._plan(secret_id, version_stage, version_id, past_cache=True)
        return await arun(plan, self._perform)

    async def _perform(self, action: Step) -> Secret | None:
        """Do one step of a read plan, awaiting it (see ``_Settings._plan``)."""
        if isinstance(action, float):
            await asyncio.sleep(action)
            return None
        if isinstance(action, Request):
            return await self._exchange(action)
        return await self._direct_source().get_secret_value(  # type: ignore[no-any-return]
            action.secret_id, version_stage=action.version_stage, version_id=action.version_id
        )

    def _direct_source(self) -> Any:
        with self._direct_lock:
            if self._direct is None:
                from .aiobotocore import AioBotocoreSource

                self._direct = AioBotocoreSource()
            return self._direct

    async def describe_secret(self, secret_id: str) -> SecretMetadata:  # type: ignore[override]
        """Refuse: the extension and the Agent serve GetSecretValue only."""
        raise _unsupported("DescribeSecret", secret_id)

    async def batch_get_secret_value(  # type: ignore[override]
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Refuse: the extension and the Agent serve GetSecretValue only."""
        raise _unsupported("BatchGetSecretValue", None)

    async def aclose(self) -> None:
        """Close the direct source if one was built (connections here last one request)."""
        closer = getattr(self._direct, "aclose", None)
        if closer is not None:
            await closer()

    async def _exchange(self, req: Request) -> Secret:
        read = req.read
        failure: SecretCacheError | None = None
        cause: BaseException | None = None
        try:
            # Straight into the call (starred): no local of this frame holds the answer.
            return answer(
                read.secret_id,
                *(await asyncio.wait_for(self._roundtrip(req), self._timeout)),
                version_stage=read.version_stage,
                version_id=read.version_id,
            )
        except (OSError, EOFError, ValueError, asyncio.TimeoutError) as exc:
            failure, cause = self._failed(
                TimeoutError() if isinstance(exc, asyncio.TimeoutError) else exc,
                read,
                partial=isinstance(exc, asyncio.IncompleteReadError),
            )
        raise failure from cause

    async def _roundtrip(self, req: Request) -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(self._endpoint.host, self._endpoint.port)
        try:
            writer.write(req.encode())
            await writer.drain()
            status, headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
            frame = framing(headers)
            if isinstance(frame, int):
                return status, await reader.readexactly(frame)
            if frame == "chunked":
                return status, await _chunked(reader)
            return status, await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):  # a peer's reset of a finished exchange
                await writer.wait_closed()


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
