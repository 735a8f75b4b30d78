"""The default client: botocore alone (no boto3 in a Lambda cold start), configured as before.

The import checks run in fresh interpreters (``sys.modules`` of this one holds boto3
already) against a moto server on 127.0.0.1, found through ``AWS_ENDPOINT_URL`` as a
deployed function would find Secrets Manager through its own configuration.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import pytest
from aiobotocore.session import get_session as get_aio_session
from moto.server import ThreadedMotoServer

from secretcache import (
    BotocoreSource,
    SecretCache,
    SecretsManagerThrottledError,
    __version__,
)
from secretcache.testing import FaultInjector, counting_calls

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

REGION = "us-east-1"


@pytest.fixture(scope="module", name="server")
def server_fixture() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    url = f"http://{host}:{port}"
    with urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")):
        pass
    admin = boto3.Session(region_name=REGION).client("secretsmanager", endpoint_url=url)
    admin.create_secret(Name="app/db", SecretString=json.dumps({"password": "pw"}))
    yield url
    moto.stop()


def _lambda_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=endpoint,
    )
    return env


def _run(code: str, endpoint: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_lambda_env(endpoint),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_import_and_a_first_read_never_import_boto3(server: str) -> None:
    _run(
        "import sys\n"
        "import secretcache, secretcache.aio, secretcache.cli, secretcache.decorators\n"
        "import secretcache.exceptions, secretcache.testing\n"
        "assert 'boto3' not in sys.modules, 'imported by import secretcache'\n"
        "from secretcache import default_cache\n"
        "assert default_cache().get_secret_field('app/db', 'password') == 'pw'\n"
        "assert 'boto3' not in sys.modules, 'imported by the first read'\n"
        "print('ok')\n",
        server,
    )


def test_the_async_default_client_never_imports_boto3(server: str) -> None:
    _run(
        "import asyncio, sys\n"
        "from secretcache.aio import AsyncSecretCache\n"
        "async def main():\n"
        "    async with AsyncSecretCache() as cache:\n"
        "        return await cache.get_secret_field('app/db', 'password')\n"
        "assert asyncio.run(main()) == 'pw'\n"
        "assert 'boto3' not in sys.modules\n"
        "print('ok')\n",
        server,
    )


# -- the default client's configuration ------------------------------------------------


def _sent_user_agents(client: Any) -> list[str]:
    agents: list[str] = []
    client.meta.events.register(
        "before-send.secrets-manager",
        lambda request, **_: agents.append(request.headers["User-Agent"].decode()),
    )
    return agents


def test_default_client_reads_with_our_user_agent(sm: SecretsManagerClient) -> None:
    sm.create_secret(Name="s", SecretString="v")
    source = BotocoreSource()
    agents = _sent_user_agents(source.client)
    with counting_calls(source.client) as calls:
        assert SecretCache(source=source).get_secret_string("s") == "v"
    assert calls == {"GetSecretValue": 1}
    assert len(agents) == 1
    assert f"secretcache/{__version__}" in agents[0]


def test_default_client_retries_in_standard_mode_three_attempts(
    sm: SecretsManagerClient,
) -> None:
    sm.create_secret(Name="s", SecretString="v")
    source = BotocoreSource()
    with FaultInjector(source.client) as faults:
        faults.fail("ThrottlingException")
        with pytest.raises(SecretsManagerThrottledError):
            SecretCache(source=source).get_secret_string("s")
    assert faults.attempts["GetSecretValue"] == 3
    assert len(faults.slept) == 2  # standard mode: jittered backoff between attempts


def test_default_client_timeouts_suit_lambda() -> None:
    config = BotocoreSource().client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 5)


def test_default_client_follows_region_and_endpoint_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    client = BotocoreSource().client
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:1"
    # The service's own variable wins over the global one, as in boto3.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:2")
    assert BotocoreSource().client.meta.endpoint_url == "http://127.0.0.1:2"


# -- session= ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_session",
    [
        lambda: botocore.session.get_session(),
        lambda: boto3.Session(region_name=REGION),
    ],
    ids=["botocore", "boto3"],
)
def test_session_may_be_botocore_or_boto3(sm: SecretsManagerClient, make_session: Any) -> None:
    sm.create_secret(Name="s", SecretString="v")
    source = BotocoreSource(session=make_session())
    agents = _sent_user_agents(source.client)
    assert SecretCache(source=source).get_secret_string("s") == "v"
    assert f"secretcache/{__version__}" in agents[0]  # the same settings either way
    cache = SecretCache(session=make_session())
    assert cache.get_secret_string("s") == "v"


@pytest.mark.parametrize(
    ("session", "says"),
    [
        (get_aio_session(), "AsyncSecretCache"),
        ("eu-west-1", "boto3.Session or a botocore.session.Session"),
    ],
    ids=["aiobotocore", "str"],
)
def test_a_session_that_cannot_build_a_sync_client_is_refused_at_once(
    session: object, says: str
) -> None:
    with pytest.raises(TypeError, match=says):
        SecretCache(session=session)  # type: ignore[arg-type]
