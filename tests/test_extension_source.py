"""SecretCache through the Lambda extension: ExtensionEmulator in front of moto.

The same semantics as the SDK path: typed errors, stale on transient failures with
backoff, single-flight, rotation detection by VersionId, redaction; and the extension's
own: its cache is seen past by refresh(), not-ready is retried briefly.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from framecheck import assert_no_secret_in_frames, raised

from secretcache import (
    BotocoreSource,
    ExtensionSource,
    RotationEvent,
    SecretAccessDeniedError,
    SecretCache,
    SecretCredentialsError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)
from secretcache.testing import ExtensionEmulator, start_rotation

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import FakeClock

Make = "Callable[..., SecretCache]"


def create(sm: SecretsManagerClient, name: str = "prod/db", password: str = "pw1") -> str:
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": password}))
    return name


def put(sm: SecretsManagerClient, name: str, password: str) -> str:
    value = json.dumps({"username": "app", "password": password})
    return sm.put_secret_value(SecretId=name, SecretString=value)["VersionId"]


def test_a_read_costs_one_request_per_ttl_and_the_extension_caches_too(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any, clock: FakeClock
) -> None:
    name = create(sm, "app/db+primary=1@x")
    cache = ext_cache()
    for _ in range(5):
        assert cache.get_secret_field(name, "password") == "pw1"
    assert len(emulator.requests) == 1
    clock.advance(61)
    assert cache.get_secret_field(name, "password") == "pw1"
    assert len(emulator.requests) == 2  # the cache asked again...
    assert emulator.calls == 1  # ...and the extension answered from its own cache
    assert cache.stats().api_calls == {"GetSecretValue": 2}
    assert emulator.requests[0].query == {"secretId": name, "versionStage": "AWSCURRENT"}
    assert not any(r.forwarded for r in emulator.requests)  # never X-Forwarded-For


def test_errors_are_the_sdk_paths_typed_errors(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any, ext_source: Any
) -> None:
    cache = ext_cache()
    with pytest.raises(SecretNotFoundError):
        cache.get_secret("no/such/secret")
    name = create(sm, "doomed")
    sm.delete_secret(SecretId=name)
    with pytest.raises(SecretDeletedError):
        cache.get_secret(name)
    with pytest.raises(SecretCredentialsError) as denied:
        ext_cache(ext_source(token="not-the-token")).get_secret("x")
    assert denied.value.code == "BadToken"
    assert denied.value.retryable is False


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (504, "TimeoutError", SecretsManagerUnavailableError),
        (502, "ConnectionError", SecretsManagerUnavailableError),
        (500, "InternalFailure", SecretsManagerUnavailableError),
        (400, "ThrottlingException", SecretsManagerThrottledError),
        (429, None, SecretsManagerThrottledError),
        (200, None, SecretsManagerUnavailableError),  # a 200 that is not GetSecretValue's
    ],
)
def test_transient_failures_serve_stale_with_backoff(
    sm: SecretsManagerClient,
    emulator: ExtensionEmulator,
    ext_cache: Any,
    clock: FakeClock,
    status: int,
    code: str | None,
    cls: type[Exception],
) -> None:
    name = create(sm)
    cache = ext_cache()
    cache.get_secret(name)
    clock.advance(61)
    emulator.fail(status, code, "trouble")
    before = len(emulator.requests)
    for _ in range(20):
        assert cache.get_secret_field(name, "password") == "pw1"  # stale, not an error
    assert len(emulator.requests) == before + 1  # one request per backoff step
    assert cache.stats().stale_served == 20
    clock.advance(5 * 60 * 3)  # past max_stale: the error itself
    with pytest.raises(cls):
        cache.get_secret(name)
    emulator.heal()
    clock.advance(61)
    assert cache.get_secret_field(name, "password") == "pw1"


def test_a_denial_drops_the_value_no_stale_after_access_is_revoked(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any, clock: FakeClock
) -> None:
    name = create(sm)
    cache = ext_cache()
    cache.get_secret(name)
    clock.advance(61)
    emulator.fail(400, "AccessDeniedException", "User is not authorized")
    with pytest.raises(SecretAccessDeniedError):
        cache.get_secret(name)
    assert cache.stats().size == 0


class Gate:
    """A Secrets Manager client whose reads wait until the test opens the gate."""

    def __init__(self, client: SecretsManagerClient) -> None:
        self.client = client
        self.open = threading.Event()

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.open.wait(10)
        return self.client.get_secret_value(**kwargs)


def test_threads_missing_one_key_share_one_request(
    sm: SecretsManagerClient, clock: FakeClock
) -> None:
    name = create(sm)
    gate = Gate(sm)
    with ExtensionEmulator(client=gate) as emu:
        cache = SecretCache(source=ExtensionSource(emu.endpoint, token=emu.token), clock=clock)
        got: list[str] = []
        threads = [
            threading.Thread(target=lambda: got.append(cache.get_secret_field(name, "password")))
            for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        while not emu.requests:
            time.sleep(0.01)
        time.sleep(0.2)  # the other threads reach the flight meanwhile
        gate.open.set()
        for thread in threads:
            thread.join()
        assert got == ["pw1"] * 16
        assert len(emu.requests) == 1


def test_a_rotation_is_seen_by_version_id_and_reported_once(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any, clock: FakeClock
) -> None:
    name = create(sm)
    events: list[RotationEvent] = []
    cache = ext_cache(on_rotation=events.append)
    old = cache.get_secret(name).version_id
    new = put(sm, name, "pw2")
    clock.advance(61)
    assert cache.get_secret_field(name, "password") == "pw1"  # the extension's cache still
    clock.advance(300)  # the staleness the extension adds: its own TTL
    assert cache.get_secret_field(name, "password") == "pw2"
    assert [(e.old_version_id, e.new_version_id) for e in events] == [(old, new)]
    assert cache.stats().rotations == 1


def test_refresh_asks_with_refresh_now_and_sees_past_the_extensions_cache(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any
) -> None:
    name = create(sm)
    cache = ext_cache()
    cache.get_secret(name)
    put(sm, name, "pw2")
    assert cache.refresh(name) is True
    assert cache.get_secret_field(name, "password") == "pw2"
    assert emulator.requests[-1].query.get("refreshNow") == "true"
    assert cache.stats().api_calls == {"GetSecretValue": 2}


def test_without_refresh_now_refresh_reads_secrets_manager_and_the_extension_cannot_undo_it(
    sm: SecretsManagerClient, ext_cache: Any, clock: FakeClock
) -> None:
    name = create(sm)
    events: list[RotationEvent] = []
    with ExtensionEmulator(client=sm, refresh_now="ignore", clock=clock) as classic:
        source = ExtensionSource(
            classic.endpoint, token=classic.token, refresh_now=False, direct=BotocoreSource(sm)
        )
        cache = ext_cache(source, on_rotation=events.append)
        cache.get_secret(name)
        put(sm, name, "pw2")
        assert cache.refresh(name) is True  # read from Secrets Manager directly
        assert len(classic.requests) == 1
        clock.advance(61)  # the extension still holds pw1 for 300 s
        assert cache.get_secret_field(name, "password") == "pw2"  # not moved back
        assert len(classic.requests) == 2
        assert len(events) == 1  # and no rotation "back" reported
        clock.advance(300)
        assert cache.get_secret_field(name, "password") == "pw2"


def test_an_endpoint_that_rejects_refresh_now_is_read_past_directly_for_good(
    sm: SecretsManagerClient, ext_cache: Any, clock: FakeClock
) -> None:
    name = create(sm)
    with ExtensionEmulator(client=sm, refresh_now="reject", clock=clock) as old_agent:
        source = ExtensionSource(
            old_agent.endpoint, token=old_agent.token, direct=BotocoreSource(sm)
        )
        cache = ext_cache(source)
        cache.get_secret(name)
        put(sm, name, "pw2")
        assert cache.refresh(name) is True
        assert source.sees_past_cache == "direct"
        put(sm, name, "pw3")
        assert cache.refresh(name) is True
        assert ["refreshNow" in r.query for r in old_agent.requests] == [False, True]


def test_rotation_candidate_sees_awspending_through_the_extension(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any
) -> None:
    name = create(sm)
    cache = ext_cache()
    failed = cache.get_secret(name).version_id
    pending = start_rotation(sm, name, json.dumps({"username": "app", "password": "pw2"}))
    candidate = cache.rotation_candidate(name, failed)
    assert candidate is not None
    assert candidate.version_id == pending
    assert all(r.query.get("refreshNow") == "true" for r in emulator.requests[1:])


@pytest.mark.parametrize("mode", ["503", "init", "reset"])
def test_an_extension_not_ready_yet_is_retried_briefly(
    sm: SecretsManagerClient,
    emulator: ExtensionEmulator,
    ext_cache: Any,
    ext_source: Any,
    mode: str,
) -> None:
    name = create(sm)
    emulator.not_ready(mode, count=2)  # type: ignore[arg-type]
    cache = ext_cache(ext_source(ready_timeout=5.0))
    assert cache.get_secret_field(name, "password") == "pw1"
    assert len(emulator.requests) == 3


@pytest.mark.parametrize("mode", ["503", "init", "reset", "refuse"])
def test_an_extension_that_stays_unready_is_a_typed_outage_and_nothing_is_remembered(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any, mode: str
) -> None:
    name = create(sm)
    emulator.not_ready(mode)  # type: ignore[arg-type]
    cache = ext_cache()  # ready_timeout=0.2
    with pytest.raises(SecretsManagerUnavailableError) as caught:
        cache.get_secret(name)
    assert caught.value.code == "ExtensionNotReady"
    emulator.ready()
    # The clock has not moved: had the failure been remembered, this would raise it.
    assert cache.get_secret_field(name, "password") == "pw1"


def test_prefetch_reads_id_by_id_and_refuses_filters(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any
) -> None:
    names = [create(sm, f"app/{i}") for i in range(3)]
    cache = ext_cache()
    got = cache.prefetch([*names, "app/missing"])
    assert sorted(k for k, v in got.items() if not isinstance(v, Exception)) == names
    assert isinstance(got["app/missing"], SecretNotFoundError)
    assert cache.stats().api_calls == {"GetSecretValue": 4}
    with pytest.raises(ValueError, match="BatchGetSecretValue"):
        cache.prefetch(filters=[{"Key": "name", "Values": ["app/"]}])


def test_describe_mode_with_the_extension_is_refused_saying_why(ext_source: Any) -> None:
    with pytest.raises(ValueError, match="DescribeSecret") as caught:
        SecretCache(source=ext_source(), revalidate="describe")
    assert 'revalidate="get"' in str(caught.value)


def test_fallback_clients_answer_while_the_extension_is_down(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_source: Any, clock: FakeClock
) -> None:
    name = create(sm)
    emulator.not_ready("refuse")
    cache = SecretCache(source=ext_source(), fallback_clients=(sm,), clock=clock)
    assert cache.get_secret_field(name, "password") == "pw1"
    emulator.ready()
    clock.advance(400)
    assert cache.get_secret_field(name, "password") == "pw1"
    assert emulator.requests  # the primary is used again once it answers


def test_the_token_is_never_in_a_repr_message_or_log(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any, debug_logs: Any
) -> None:
    name = create(sm)
    source = ExtensionSource(emulator.endpoint, token=emulator.token)
    cache = ext_cache(source)
    cache.get_secret(name)
    wrong = ExtensionSource(emulator.endpoint, token="WRONG-Tk-9f8e7d")
    with pytest.raises(SecretCredentialsError) as caught:
        ext_cache(wrong).get_secret(name)
    for text in (repr(source), repr(wrong), repr(cache), str(caught.value), repr(caught.value)):
        assert emulator.token not in text
        assert "WRONG-Tk-9f8e7d" not in text
    assert not any(emulator.token in t or "WRONG-Tk" in t for t in debug_logs.texts)
    assert emulator.token not in repr(emulator.requests)


def test_no_value_in_our_frames_when_a_200_is_malformed(
    emulator: ExtensionEmulator, ext_cache: Any, canary: str
) -> None:
    emulator.fail(200, message=json.dumps({"SecretString": canary, "VersionId": 7}))
    exc = raised(ext_cache().get_secret, "prod/db")
    assert isinstance(exc, SecretsManagerUnavailableError)
    assert exc.code == "MalformedResponse"
    assert canary not in str(exc)
    assert_no_secret_in_frames(exc, canary)


@pytest.mark.parametrize("mode", ["reset", "refuse", "wrong-token"])
def test_no_frame_on_any_traceback_holds_the_token(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, ext_cache: Any, mode: str
) -> None:
    token = f"TOKEN-{emulator.token}"
    source = ExtensionSource(emulator.endpoint, token=token, ready_timeout=0.05)
    if mode != "wrong-token":
        emulator.not_ready(mode)  # type: ignore[arg-type]
    exc = raised(ext_cache(source).get_secret, create(sm))
    assert isinstance(exc, (SecretsManagerUnavailableError, SecretCredentialsError))
    # Every frame, the HTTP client's included: trackers record them all.
    assert_no_secret_in_frames(exc, token, ours=lambda frame: True)
