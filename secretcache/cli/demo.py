"""Replay the classic Secrets Manager walkthrough on an in-process moto backend.

An admin creates ``MySecret`` and two roles; IAM enforcement is then switched on and
each role, assumed through STS, reads the secret through its own ``SecretCache``. The
rest shows the cache at work, a rotation and a scheduled deletion. Nothing leaves the
process: moto answers every call, the credentials are fake, and the AWS settings of the
user's environment are set aside for the run and put back afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from .._cache import SecretCache
from ..exceptions import SecretCacheError
from ..testing import rotate_secret

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from .._core.models import RotationEvent, Secret

__all__ = ["ROTATED_VALUE", "SECRET_NAME", "SECRET_VALUE", "MissingMotoError", "run"]

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
SECRET_NAME = "MySecret"
#: What the secret holds before and after the rotation (shown only with --reveal).
SECRET_VALUE = "correct-horse-battery-staple"
ROTATED_VALUE = "tr0ub4dor-and-3"
ADMIN = "demo-admin"
ROLES = ("AuthorizedRole", "UnauthorizedRole")
SESSION_NAME = "secretcache-demo"
TTL = 300.0
MASK = "********"
LABEL = 18
WIDTH = 100


class MissingMotoError(RuntimeError):
    """moto is not installed: the demo needs the ``demo`` extra."""


def _policy(statement: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@contextmanager
def _isolated_aws_env() -> Iterator[None]:
    """Set the user's AWS settings aside for the run and put them back afterwards.

    Profiles, endpoint overrides or config files from the user's shell could otherwise
    point a client at a real endpoint that moto does not intercept.
    """
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",  # moto's world only
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(saved)


class _Printer:
    """Aligned sections and rows on one stream."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.section_no = 0

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def section(self, title: str, *why: str) -> None:
        self.section_no += 1
        self.line()
        self.line(f"{self.section_no}. {title}")
        for text in why:
            self.line(f"   {text}")

    def row(self, label: str, value: object) -> None:
        indent = " " * (3 + LABEL)
        text = textwrap.fill(
            str(value),
            width=WIDTH,
            initial_indent=f"   {label:<{LABEL}}",
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )
        self.line(text)


def _show_value(value: str, reveal: bool) -> str:
    """Show a JSON object's keys with masked values, or everything with --reveal."""
    if reveal:
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return MASK
    if not isinstance(parsed, dict):
        return MASK
    return "{" + ", ".join(f"{json.dumps(k)}: {MASK}" for k in parsed) + "}"


def _short(version_id: str) -> str:
    return version_id[:8] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _calls(cache: SecretCache) -> int:
    return sum(cache.stats().api_calls.values())


def _error_rows(p: _Printer, exc: SecretCacheError) -> None:
    p.row("error", type(exc).__name__)
    p.row("code", exc.code)
    p.row("message", _one_line(exc.message))


def _session(boto3_mod: Any, credentials: Mapping[str, str]) -> boto3.Session:
    session: boto3.Session = boto3_mod.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        region_name=REGION,
    )
    return session


class _Walkthrough:
    """The scenario, step by step, against one moto backend."""

    def __init__(self, p: _Printer, reveal: bool) -> None:
        self.p = p
        self.reveal = reveal
        self.caches: dict[str, SecretCache] = {}
        self.callers: dict[str, str] = {}
        self.events: list[RotationEvent] = []

    def setup(self, boto3_mod: Any) -> dict[str, str]:
        """Create the secret, the roles and the admin; return the admin's access key."""
        setup = boto3_mod.Session(region_name=REGION)
        iam = setup.client("iam")
        setup.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps({"secret": SECRET_VALUE})
        )
        iam.create_user(UserName=ADMIN)
        iam.put_user_policy(
            UserName=ADMIN,
            PolicyName="everything",
            PolicyDocument=_policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        )
        key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
        trust = _policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{ADMIN}"},
                "Action": "sts:AssumeRole",
            }
        )
        for role in ROLES:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        # moto honours Secrets Manager grants only on "Resource": "*"; in AWS, name the
        # secret's ARN (see examples/template.yaml).
        iam.put_role_policy(
            RoleName="AuthorizedRole",
            PolicyName="read-secret",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
            ),
        )
        p = self.p
        p.section(
            "Setup",
            "An admin creates the secret and two roles; then IAM enforcement is switched on,",
            "so from here every call is checked against the caller's policies.",
        )
        p.row("secret", f"{SECRET_NAME} holding {_show_value(self._value(), self.reveal)}")
        p.row("AuthorizedRole", "policy allows secretsmanager:GetSecretValue")
        p.row("UnauthorizedRole", "no grant on Secrets Manager at all")
        p.row("admin", f"IAM user {ADMIN}, assumes both roles through STS")
        return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}

    @staticmethod
    def _value(secret: str = SECRET_VALUE) -> str:
        return json.dumps({"secret": secret})

    def assume_roles(self, boto3_mod: Any, admin: boto3.Session) -> None:
        """Assume each role through STS and give each its own SecretCache."""
        sts = admin.client("sts")
        for role in ROLES:
            credentials = sts.assume_role(
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName=SESSION_NAME
            )["Credentials"]
            creds = {
                "AccessKeyId": credentials["AccessKeyId"],
                "SecretAccessKey": credentials["SecretAccessKey"],
                "SessionToken": credentials["SessionToken"],
            }
            session = _session(boto3_mod, creds)
            self.callers[role] = session.client("sts").get_caller_identity()["Arn"]
            client = session.client("secretsmanager")
            self.caches[role] = SecretCache(client=client, ttl=TTL, jitter=0.0)

    def read_authorized(self) -> Secret:
        p = self.p
        cache = self.caches["AuthorizedRole"]
        p.section(
            "Read as AuthorizedRole",
            "The role's policy grants GetSecretValue, so the cache fetches the secret.",
        )
        secret = cache.get_secret(SECRET_NAME)
        p.row("caller", self.callers["AuthorizedRole"])
        p.row("name", secret.name)
        p.row("ARN", secret.arn)
        p.row("VersionId", secret.version_id)
        p.row("stages", ", ".join(secret.version_stages))
        p.row("value", _show_value(secret.secret_string or "", self.reveal))
        if not self.reveal:
            p.row("", "(masked: run `python -m secretcache demo --reveal` to show it)")
        return secret

    def read_unauthorized(self) -> None:
        p = self.p
        p.section(
            "Read as UnauthorizedRole",
            "Least privilege at work: no grant, no value. The failure is a typed error",
            "your code can catch, with AWS's code and message (which names the role).",
        )
        p.row("caller", self.callers["UnauthorizedRole"])
        try:
            self.caches["UnauthorizedRole"].get_secret(SECRET_NAME)
        except SecretCacheError as exc:
            _error_rows(p, exc)
        else:  # pragma: no cover - would mean IAM enforcement is off
            raise AssertionError("UnauthorizedRole read the secret: IAM enforcement is off")

    def cache_at_work(self) -> None:
        p = self.p
        cache = self.caches["AuthorizedRole"]
        p.section(
            "The cache at work",
            f"Within the TTL ({TTL:g} s) a read is served from memory: no API call, no",
            "latency, no cost. In a Lambda function that is every warm invocation.",
        )
        before = _calls(cache)
        cache.get_secret(SECRET_NAME)
        cost = _calls(cache) - before
        stats = cache.stats()
        p.row("first read", f"{before} API call (GetSecretValue)")
        p.row("second read", f"{cost} API calls")
        p.row("stats()", f"hits={stats.hits} misses={stats.misses} size={stats.size}")

    def rotation(self, admin_sm: SecretsManagerClient, old: Secret) -> None:
        p = self.p
        cache = self.caches["AuthorizedRole"]
        cache.on_rotation(self.events.append)
        p.section(
            "Rotation",
            "A rotation puts a new version under AWSCURRENT. Readers pick it up when the",
            "TTL runs out, without a redeploy; refresh() asks now. A new VersionId behind",
            "the stage is a rotation: on_rotation callbacks get a RotationEvent, once.",
        )
        new_id = rotate_secret(admin_sm, SECRET_NAME, self._value(ROTATED_VALUE))
        p.row("PutSecretValue", f"new version {_short(new_id)} is now AWSCURRENT")
        changed = cache.refresh(SECRET_NAME)
        p.row("refresh()", f"{changed} (the version changed)" if changed else "False")
        for event in self.events:
            p.row(
                "RotationEvent",
                f"{event.secret_id} {event.version_stage}: "
                f"{_short(event.old_version_id)} -> {_short(event.new_version_id)}",
            )
        secret = cache.get_secret(SECRET_NAME)
        p.row("now serving", f"{_short(secret.version_id)} (was {_short(old.version_id)})")
        p.row("value", _show_value(secret.secret_string or "", self.reveal))

    def cleanup(self, admin_sm: SecretsManagerClient) -> None:
        p = self.p
        cache = self.caches["AuthorizedRole"]
        p.section(
            "Cleanup",
            "The admin schedules the deletion with a 7-day recovery window. The next",
            "revalidation sees it: the cache drops its copy and raises, it never keeps",
            "serving a deleted secret.",
        )
        deleted = admin_sm.delete_secret(SecretId=SECRET_NAME, RecoveryWindowInDays=7)
        when = deleted.get("DeletionDate")
        p.row(
            "DeleteSecret",
            "recovery window 7 days"
            + (f", deleted on {when:%Y-%m-%d} unless restored" if when else ""),
        )
        try:
            cache.refresh(SECRET_NAME)
        except SecretCacheError as exc:
            p.row("refresh()", f"{type(exc).__name__} [{exc.code}]")
        before = _calls(cache)
        try:
            cache.get_secret(SECRET_NAME)
        except SecretCacheError as exc:
            cost = _calls(cache) - before
            p.row(
                "get_secret()",
                f"{type(exc).__name__} again ({cost} API calls: the error is remembered "
                "briefly so a hot path does not hammer the API)",
            )

    def summary(self, started: float) -> None:
        p = self.p
        stats = self.caches["AuthorizedRole"].stats()
        calls = ", ".join(f"{op} x{n}" for op, n in sorted(stats.api_calls.items()))
        p.line()
        p.line(
            f"AuthorizedRole's cache: {calls}; hits={stats.hits} rotations={stats.rotations} "
            f"errors={stats.errors}"
        )
        p.line(f"Done in {time.perf_counter() - started:.1f} s. Nothing was sent to AWS.")


def run(*, reveal: bool = False, out: TextIO | None = None) -> int:
    """Run the walkthrough, printing to ``out`` (stdout); return the exit code."""
    started = time.perf_counter()
    try:
        import moto
        from moto.core import enable_iam_authentication
    except ImportError as exc:
        raise MissingMotoError("the demo needs moto: pip install 'secretcache[demo]'") from exc
    import boto3

    p = _Printer(out if out is not None else sys.stdout)
    p.line("secretcache demo: the classic Secrets Manager walkthrough, replayed in-process")
    p.line("on moto with IAM enforcement on. No AWS account is used; nothing leaves this process.")
    walk = _Walkthrough(p, reveal)
    with ExitStack() as stack:
        stack.enter_context(_isolated_aws_env())
        stack.enter_context(moto.mock_aws())
        admin_key = walk.setup(boto3)
        stack.enter_context(enable_iam_authentication())
        admin = _session(boto3, admin_key)
        walk.assume_roles(boto3, admin)
        for cache in walk.caches.values():
            stack.callback(cache.close)
        old = walk.read_authorized()
        walk.read_unauthorized()
        walk.cache_at_work()
        admin_sm = admin.client("secretsmanager")
        walk.rotation(admin_sm, old)
        walk.cleanup(admin_sm)
        walk.summary(started)
    return 0
