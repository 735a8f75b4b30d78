"""The four orders a database secret's rotation can take, run under traffic.

- ``aws-single-user``: a Secrets Manager rotation function on one user: createSecret
  (AWSPENDING), setSecret (ALTER ROLE), testSecret, finishSecret (AWSCURRENT moves).
- ``aws-alternating-users``: the same on two users taking turns: setSecret changes the
  user that AWSCURRENT does not hold, so no password in use ever stops working.
- ``hand-secret-first``: a person runs put-secret-value, then ALTER ROLE. The cache
  reads AWSCURRENT in between (its TTL ends then, as a new process or Lambda would).
- ``hand-database-first``: ALTER ROLE, then put-secret-value ``GAP`` seconds later.

After each rotation the cache's TTL ends (rotations are days apart; the TTL is
minutes): ``cache.refresh``, then traffic until every worker used the new password.
Refused logins are counted twice: from the server's log and from secretcache's own INFO
log line for each refusal (in-process). Used by tests/test_rotation_matrix.py and
bench/rotation_logins.py.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fixtures_postgres import ALT_USER, APP_USER
from pg_traffic import log_in_with_pending

from secretcache.testing import finish_rotation, rotate_secret, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from pg_traffic import Traffic

    from secretcache import SecretCache

ORDERS = ("aws-single-user", "aws-alternating-users", "hand-secret-first", "hand-database-first")
GAP = 0.2  # seconds between the two steps of a hand rotation, database first
QUERIES = 3  # queries every worker runs after each step


@dataclass(frozen=True)
class Rotated:
    """One rotation: refused logins (server log, in-process), API calls, recovery time."""

    order: str
    refused_server: int
    refused_here: int
    api_calls: int
    recovered: float | None  # seconds from the database change to the new password's use


class Refusals(logging.Handler):
    """Count secretcache's "login ... refused" log lines (one per refused login)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("secretcache: login with version"):
            self.count += 1

    def __enter__(self) -> Refusals:
        logger = logging.getLogger("secretcache")
        self._level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logger = logging.getLogger("secretcache")
        logger.removeHandler(self)
        logger.setLevel(self._level)


class Rotator:
    """Rotates one secret's password in a chosen order while ``traffic`` flows."""

    def __init__(
        self,
        sm: SecretsManagerClient,
        pg: PostgresCluster,
        traffic: Traffic,
        cache: SecretCache,
        secret_id: str,
        refusals: Refusals,
        queries: int = QUERIES,
    ) -> None:
        self.sm, self.pg, self.traffic, self.cache = sm, pg, traffic, cache
        self.secret_id, self.refusals, self.queries = secret_id, refusals, queries
        self.user = APP_USER
        self.rotations = 0
        self.phase = traffic.phase

    def secret(self, password: str, user: str | None = None) -> str:
        return json.dumps(self.pg.secret(password, user or self.user))

    def rotate(self, order: str) -> Rotated:
        """Run one rotation in ``order``; return what it cost."""
        self.rotations += 1
        password = f"r{self.rotations}-{order}"
        server, here = self.pg.failed_logins(), self.refusals.count
        calls = self.cache.stats().api_calls.get("GetSecretValue", 0)
        changed = self._orders()[order](password)
        with self._step():  # the TTL ends before the next rotation
            self.cache.refresh(self.secret_id)
        self.traffic.wait_for(self.queries, password)
        recovered = None if changed is None else self.traffic.first_use[password] - changed
        return Rotated(
            order,
            self.pg.failed_logins() - server,
            self.refusals.count - here,
            self.cache.stats().api_calls.get("GetSecretValue", 0) - calls,
            recovered,
        )

    def _orders(self) -> dict[str, Callable[[str], float | None]]:
        return {
            "aws-single-user": self._aws_single_user,
            "aws-alternating-users": self._aws_alternating_users,
            "hand-secret-first": self._hand_secret_first,
            "hand-database-first": self._hand_database_first,
        }

    def _step(self) -> AbstractContextManager[None]:
        self.phase += 1
        return self.traffic.step(self.phase)

    def _aws(self, password: str, user: str) -> float:
        version_id = start_rotation(self.sm, self.secret_id, self.secret(password, user))
        self.traffic.wait_for(self.queries)
        with self._step():
            changed = time.monotonic()
            self.pg.set_password(password, user)  # setSecret
        self.traffic.wait_for(self.queries)
        log_in_with_pending(self.sm, self.pg, self.secret_id)  # testSecret
        with self._step():
            finish_rotation(self.sm, self.secret_id, version_id)
        self.traffic.wait_for(self.queries)
        return changed

    def _aws_single_user(self, password: str) -> float:
        return self._aws(password, self.user)

    def _aws_alternating_users(self, password: str) -> float | None:
        """Rotate the user AWSCURRENT does not hold: no password in use stops working."""
        other = ALT_USER if self.user == APP_USER else APP_USER
        self._aws(password, other)
        self.user = other
        return None

    def _hand_secret_first(self, password: str) -> float:
        with self._step():
            rotate_secret(self.sm, self.secret_id, self.secret(password))
            self.cache.refresh(self.secret_id)  # the cache reads AWSCURRENT now
        self.traffic.wait_for(self.queries)
        with self._step():
            changed = time.monotonic()
            self.pg.set_password(password, self.user)
        self.traffic.wait_for(self.queries, password)
        return changed

    def _hand_database_first(self, password: str) -> float:
        with self._step():
            changed = time.monotonic()
            self.pg.set_password(password, self.user)
            time.sleep(GAP)
            rotate_secret(self.sm, self.secret_id, self.secret(password))
        self.traffic.wait_for(self.queries, password)
        return changed
