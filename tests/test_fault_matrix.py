"""The fault matrix: each Secrets Manager failure on a cold key and on a warm expired key.

Every cell drives one key with 100 gets a second for a simulated minute (FakeClock) and
checks the error class, ``retryable``, whether the last value is served stale, and the
API calls made: the rows of ``faultmatrix.FAULTS`` are the manual's failure table
(docs/freshness.md).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import moto.core
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from docs_pages import PAGES
from faultmatrix import FAULTS, GETS_PER_SECOND, SIMULATED_SECONDS, FaultCase, markdown_table

from secretcache import CacheStats, SecretCache, SecretCacheError
from secretcache.testing import FakeClock, FaultInjector, counting_calls

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

ROOT = Path(__file__).resolve().parent.parent
TABLE_PAGE = "docs/freshness.md"  # the failure table's page in the manual
SECRET = "prod/fault-matrix"
TTL = 60.0
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}],
}


@dataclass
class Run:
    """What one cell observed."""

    served: Counter[str] = field(default_factory=Counter)
    raised: Counter[type[BaseException]] = field(default_factory=Counter)
    errors: list[SecretCacheError] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    http_attempts: int = 0
    retry_sleeps: list[float] = field(default_factory=list)
    stats: CacheStats | None = None


def _hammer(cache: SecretCache, clock: FakeClock, run: Run) -> None:
    """Read the key at GETS_PER_SECOND for SIMULATED_SECONDS of fake time."""
    step = 1.0 / GETS_PER_SECOND
    for _ in range(GETS_PER_SECOND * SIMULATED_SECONDS):
        try:
            run.served[cache.get_secret_string(SECRET)] += 1
        except SecretCacheError as exc:
            run.raised[type(exc)] += 1
            if len(run.errors) < 3:
                run.errors.append(exc)
        clock.advance(step)


@contextmanager
def _iam_client(session: boto3.Session) -> Iterator[tuple[SecretsManagerClient, Any]]:
    """Yield a client for an IAM user allowed to read secrets, and a way to revoke that."""
    iam = session.client("iam")
    iam.create_user(UserName="app")
    key = iam.create_access_key(UserName="app")["AccessKey"]
    policy = iam.create_policy(PolicyName="read", PolicyDocument=json.dumps(READ_ONLY))
    arn = policy["Policy"]["Arn"]
    iam.attach_user_policy(UserName="app", PolicyArn=arn)
    app = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=session.region_name,
    ).client("secretsmanager", config=Config(retries={"mode": "standard", "max_attempts": 3}))

    def revoke() -> None:
        iam.detach_user_policy(UserName="app", PolicyArn=arn)

    yield app, revoke


def run_cell(
    case: FaultCase,
    *,
    warm: bool,
    session: boto3.Session,
    admin: SecretsManagerClient,
    value: str = "v1-value",
) -> Run:
    """Produce ``case`` on a cold or warm-and-expired key, hammer it, report what happened."""
    admin.create_secret(Name=SECRET, SecretString=value)
    run = Run()
    clock = FakeClock()
    with ExitStack() as stack:
        client = admin
        revoke = None
        if case.inject == "iam":
            client, revoke = stack.enter_context(_iam_client(session))
            if not warm:
                revoke()
        cache = SecretCache(client=client, clock=clock, ttl=TTL, jitter=0.0)
        stack.callback(cache.close)

        def authenticated() -> Any:
            # moto checks IAM policies only inside this block; set-up calls stay outside.
            if case.inject == "iam":
                return moto.core.enable_iam_authentication()
            return ExitStack()

        if warm:
            with authenticated():
                assert cache.get_secret_string(SECRET) == value
            clock.advance(TTL + 1.0)  # expired, well inside max_stale (900 s)
        faults = stack.enter_context(FaultInjector(client, sleep=run.retry_sleeps.append))
        if case.inject == "code":
            faults.fail(case.aws_code, status=case.status)
        elif case.inject == "connection":
            faults.connection_error()
        elif case.inject == "read_timeout":
            faults.read_timeout()
        elif case.inject == "iam" and warm:
            assert revoke is not None
            revoke()
        elif case.inject == "moto_delete":
            admin.delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
        elif case.inject == "moto_schedule":
            admin.delete_secret(SecretId=SECRET, RecoveryWindowInDays=7)
        with authenticated(), counting_calls(client) as calls:
            _hammer(cache, clock, run)
        run.calls = calls
        run.stats = cache.stats()
        run.http_attempts = faults.attempts["GetSecretValue"]
    return run


def _http_attempts(client: SecretsManagerClient) -> int:
    """Return the HTTP attempts botocore makes for a retryable error on ``client``."""
    retries = client.meta.config.retries or {}
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    # {"max_attempts": n} counts retries, not attempts: n + 1 in all.
    return int(retries.get("max_attempts", 2)) + 1


CELLS = [
    pytest.param(case, warm, id=f"{case.id}-{'warm' if warm else 'cold'}")
    for case in FAULTS
    for warm in (False, True)
]


@pytest.mark.parametrize(("case", "warm"), CELLS)
def test_fault_matrix_cell(
    case: FaultCase,
    warm: bool,
    boto_session: boto3.Session,
    sm: SecretsManagerClient,
) -> None:
    run = run_cell(case, warm=warm, session=boto_session, admin=sm)
    gets = GETS_PER_SECOND * SIMULATED_SECONDS

    if warm and case.serves_stale:
        # The outage never reaches the caller: the last value, every time.
        assert run.served == {"v1-value": gets}
        assert not run.raised
    else:
        # Cold, or access gone: every get raises the mapped class, nothing stale.
        assert not run.served
        assert run.raised == {case.error: gets}
        first = run.errors[0]
        assert first.secret_id == SECRET
        assert first.version_stage == "AWSCURRENT"
        assert first.retryable is case.retryable
        if case.aws_code:
            assert first.code == case.aws_code
            assert isinstance(first.__cause__, ClientError)
        else:
            assert isinstance(first.__cause__, BotoCoreError)
        if case.status is not None:
            assert first.status_code == case.status

    # The backoff bounds the API, however hot the key: logical calls in the minute.
    assert run.calls == {"GetSecretValue": case.calls_per_minute}
    stats = run.stats
    assert stats is not None
    warm_calls = 1 if warm else 0
    assert stats.api_calls == {"GetSecretValue": case.calls_per_minute + warm_calls}
    assert stats.errors == case.calls_per_minute
    assert stats.hits + stats.misses == gets + warm_calls
    assert stats.stale_served == (gets if warm and case.serves_stale else 0)
    assert stats.size == (1 if warm and case.serves_stale else 0)
    if case.inject in ("code", "connection", "read_timeout"):
        # botocore's own retries run inside each logical call, sleeping only in the record.
        per_call = _http_attempts(sm) if case.retryable else 1
        assert run.http_attempts == per_call * case.calls_per_minute
        assert len(run.retry_sleeps) == (per_call - 1) * case.calls_per_minute


@pytest.mark.parametrize("case", [c for c in FAULTS if c.serves_stale], ids=lambda c: c.id)
def test_stale_service_ends_at_max_stale(case: FaultCase, sm: SecretsManagerClient) -> None:
    """Past ttl + max_stale the outage reaches the caller as the typed error."""
    sm.create_secret(Name=SECRET, SecretString="v1-value")
    clock = FakeClock()
    with SecretCache(client=sm, clock=clock, ttl=TTL, jitter=0.0, max_stale=120.0) as cache:
        cache.get_secret_string(SECRET)
        with FaultInjector(sm) as faults:
            if case.inject == "code":
                faults.fail(case.aws_code, status=case.status)
            elif case.inject == "connection":
                faults.connection_error()
            else:
                faults.read_timeout()
            clock.advance(TTL + 119.0)
            assert cache.get_secret_string(SECRET) == "v1-value"
            clock.advance(2.0)
            with pytest.raises(case.error):
                cache.get_secret_string(SECRET)


def test_recovery_after_transient_outage_is_at_most_one_backoff_step(
    sm: SecretsManagerClient,
) -> None:
    sm.create_secret(Name=SECRET, SecretString="v1-value")
    clock = FakeClock()
    with (
        SecretCache(client=sm, clock=clock, ttl=TTL, jitter=0.0) as cache,
        FaultInjector(sm) as faults,
    ):
        faults.fail("ThrottlingException")
        with pytest.raises(SecretCacheError):
            cache.get_secret_string(SECRET)
        faults.heal()
        clock.advance(1.3)  # past the first step (1 s, at most +20 % jitter)
        assert cache.get_secret_string(SECRET) == "v1-value"


def test_failure_table_in_the_manual_matches_the_matrix() -> None:
    """The manual carries exactly the table tools/failure_table.py prints, once."""
    pattern = r"<!-- failure-table:start -->\n(.*?)<!-- failure-table:end -->"
    found = [(p.name, block) for p in PAGES for block in re.findall(pattern, p.text, re.DOTALL)]
    assert [name for name, _ in found] == [TABLE_PAGE], "the failure-table block belongs there"
    assert found[0][1].strip() == markdown_table().strip()


def test_failure_table_tool_prints_the_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import failure_table
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert failure_table.main([]) == 0
    out = capsys.readouterr().out
    assert out.strip() == markdown_table().strip()
    assert out.count("\n|") == len(FAULTS) + 1


def test_failure_table_tool_rewrites_the_block_in_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import failure_table
    finally:
        sys.path.remove(str(ROOT / "tools"))
    stale = tmp_path / "freshness.md"
    stale.write_text(
        "# Page\n\n<!-- failure-table:start -->\n| old |\n<!-- failure-table:end -->\nAfter.\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(failure_table, "PAGE", stale)
    assert failure_table.main(["--write"]) == 0
    text = stale.read_text(encoding="utf-8")
    assert "| old |" not in text
    assert text.startswith("# Page\n\n<!-- failure-table:start -->\n" + markdown_table())
    assert text.endswith("<!-- failure-table:end -->\nAfter.\n")
