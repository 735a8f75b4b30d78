"""The DEBUG-log scrubber judges a body by what it means, not by how it is spelled.

botocore logs each response body at DEBUG before parsing it with json.loads, which reads
``"Secret\\u0053tring"`` as SecretString. Whatever the spelling, the value must not reach
a log; a body that cannot be parsed is dropped whole (fail closed).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import TYPE_CHECKING

import pytest
from raw_answers import raw_answers

from secretcache import SecretCache

if TYPE_CHECKING:
    from conftest import RecordAll
    from mypy_boto3_secretsmanager import SecretsManagerClient

REDACTED = "<redacted by secretcache>"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


def _escaped(text: str, letters: str) -> str:
    """Spell ``letters`` of ``text`` as JSON \\u escapes."""
    return "".join(f"\\u{ord(c):04x}" if c in letters else c for c in text)


def _answer(key: str, value: str) -> bytes:
    body = (
        f'{{"ARN": "{ARN}", "Name": "db", "VersionId": "{"1" * 32}",'
        f' "VersionStages": ["AWSCURRENT"], "CreatedDate": 1700000000, "{key}": "{value}"}}'
    )
    json.loads(body)  # valid JSON, whatever the spelling
    return body.encode()


SPELLINGS = {
    "one letter escaped": "Secret\\u0053tring",  # as the review found it
    "capitals escaped": _escaped("SecretString", "S"),
    "every letter escaped": _escaped("SecretString", "SecretString"),
}


@pytest.mark.parametrize("key", list(SPELLINGS.values()), ids=list(SPELLINGS))
def test_an_escaped_secret_string_key_is_scrubbed(
    sm: SecretsManagerClient, debug_logs: RecordAll, canary: str, key: str
) -> None:
    cache = SecretCache(client=sm)  # installs the scrubber
    with raw_answers(sm) as answers:
        answers.bodies["GetSecretValue"] = _answer(key, canary)
        # botocore reads the escaped key as SecretString: the value is really served.
        assert cache.get_secret_string("db") == canary
    logged = "\n".join(debug_logs.texts)
    assert "Response body" in logged
    assert REDACTED in logged
    assert canary not in logged


def test_an_escaped_secret_binary_key_is_scrubbed(
    sm: SecretsManagerClient, debug_logs: RecordAll, canary: str
) -> None:
    cache = SecretCache(client=sm)
    encoded = base64.b64encode(canary.encode()).decode()
    with raw_answers(sm) as answers:
        answers.bodies["GetSecretValue"] = _answer(_escaped("SecretBinary", "B"), encoded)
        assert cache.get_secret_binary("db") == canary.encode()
    logged = "\n".join(debug_logs.texts)
    assert REDACTED in logged
    assert encoded not in logged
    assert canary not in logged


def test_escaped_keys_inside_a_batch_answer_are_scrubbed(
    sm: SecretsManagerClient, debug_logs: RecordAll, canary: str
) -> None:
    SecretCache(client=sm)
    entry = json.loads(_answer("SecretString", "x"))
    del entry["SecretString"]
    first = json.dumps({**entry, "Name": "a"})[:-1] + f', "Secret\\u0053tring": "{canary}-a"}}'
    second = json.dumps({**entry, "Name": "b"})[:-1] + f', "\\u0053ecretString": "{canary}-b"}}'
    body = f'{{"SecretValues": [{first}, {second}], "Errors": []}}'
    with raw_answers(sm) as answers:
        answers.bodies["BatchGetSecretValue"] = body.encode()
        got = sm.batch_get_secret_value(SecretIdList=["a", "b"])
    assert [v["SecretString"] for v in got["SecretValues"]] == [f"{canary}-a", f"{canary}-b"]
    logged = "\n".join(debug_logs.texts)
    assert logged.count(REDACTED) >= 2
    assert canary not in logged


@pytest.mark.parametrize(
    "body",
    [
        b'{"Secret\\u0053tring": "CANARY-cut',  # cut off: no parser can say where it ends
        b'{"SecretString": "CANARY-cut',
        b'garbage {"Secret\\u0053tring": "CANARY-cut"}',
        b'\xff\xfe{"Secret\\u0053tring": "CANARY-cut"}',  # not UTF-8
    ],
    ids=["escaped-cut", "plain-cut", "prefixed", "not-utf8"],
)
def test_a_body_that_does_not_parse_is_dropped_whole(
    sm: SecretsManagerClient, debug_logs: RecordAll, body: bytes
) -> None:
    SecretCache(client=sm)
    # As botocore logs a body before parsing it (its parser then fails on it).
    logging.getLogger("botocore.parsers").debug("Response body:\n%r", body)
    logged = "\n".join(debug_logs.texts)
    assert REDACTED in logged
    assert "CANARY-cut" not in logged


def test_a_body_with_escapes_but_no_secret_is_logged_as_written(
    sm: SecretsManagerClient, debug_logs: RecordAll
) -> None:
    SecretCache(client=sm)
    body = b'{"Name": "caf\\u00e9", "ARN": "x"}'
    logging.getLogger("botocore.parsers").debug("Response body:\n%r", body)
    assert debug_logs.texts[-1] == f"Response body:\n{body!r}"


def test_a_secret_key_in_a_logged_mapping_has_its_value_scrubbed(
    sm: SecretsManagerClient, debug_logs: RecordAll, canary: str
) -> None:
    SecretCache(client=sm)
    logging.getLogger("botocore.endpoint").debug(
        "params: %s", {"body": {"Nested": [{"SecretString": canary}]}, "SecretBinary": canary}
    )
    logged = "\n".join(debug_logs.texts)
    assert REDACTED in logged
    assert canary not in logged
