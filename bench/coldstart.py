"""Lambda cold start: whole processes, from interpreter start to one JSON field read.

Each run is a fresh interpreter doing what a Lambda cold start does: import the library,
build its default cache or client at module level, and read one field of a JSON secret
over HTTP from a local moto server (``ThreadedMotoServer`` on 127.0.0.1, reached through
``AWS_ENDPOINT_URL`` as every library's default client honours it). The extension rows
read through ``ExtensionEmulator`` instead, run in a process of its own in front of the
same moto server, as the Lambda extension runs beside the function: the child looks
like a Lambda function with the layer (``AWS_LAMBDA_FUNCTION_NAME``,
``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``, ``AWS_SESSION_TOKEN``). Writes the
cold-start section of ``bench/out/RESULTS.md``. ``--quick`` runs 2 rounds (a smoke run whose
figures mean nothing) and writes nothing.

Method: one unrecorded run of every handler first (it writes the bytecode caches, as pip
does on install); then rounds, each running every handler once in a shuffled order, so
load on the shared machine falls on all handlers alike. Wall time is measured by the
parent from spawn to exit, CPU time (user + system) from the parent's
``RUSAGE_CHILDREN``, time to the value from spawn to the child's ``time.monotonic()``
once it holds the value, instructions (once per handler, after the rounds) by valgrind's
callgrind; each child reports its own import and build-plus-read times
(``time.perf_counter``), its peak resident memory (``VmHWM``) and whether boto3 was
imported. Medians throughout; a ratio is the median of the per-round ratios of the two
handlers' figures, wall time unless named (each pair ran in the same round).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import _harness as h

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

SECRET_ID = "bench/coldstart-db"
TARGET = 0.9  # secretcache's wall time / raw boto3's, at most
EXTENSION_TARGET = 0.3  # through the extension: wall time and instructions / raw boto3's
EXTENSION_RSS_MIB = 25.0  # through the extension: peak RSS, at most
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every handler starts with this (the clock) and ends with EPILOGUE (the report).
PROLOGUE = "import time\n_t0 = time.perf_counter()\n"
EPILOGUE = """
_t3 = time.perf_counter()
_value_at = time.monotonic()  # one clock for every process on Linux: the parent's too
import json, os, resource, sys
def _peak_kib():
    # ru_maxrss would report the parent's size: Linux keeps it across fork and exec.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "ok": value == os.environ["COLDSTART_EXPECT"],
    "import_ms": (_t1 - _t0) * 1e3,
    "build_ms": (_t2 - _t1) * 1e3,
    "read_ms": (_t3 - _t2) * 1e3,
    "value_at": _value_at,
    "maxrss_kib": _peak_kib(),
    "boto3": "boto3" in sys.modules,
    "secretcache_from": getattr(sys.modules.get("secretcache"), "__file__", None),
}))
"""


@dataclass(frozen=True)
class Handler:
    """One row: a Lambda-style module body (imports, module-level build, one read)."""

    key: str
    label: str
    body: str
    dist: str | None  # the distribution whose version the table names
    floor: bool = False  # a reference row, not a library
    pythonpath: str | None = None  # put first on the child's sys.path (a baseline checkout)
    extension: bool = False  # reads through the emulator (the child's env says where)

    @property
    def code(self) -> str:
        """Return the whole script a child runs."""
        return PROLOGUE + self.body + EPILOGUE


SECRETCACHE = Handler(
    "secretcache",
    "secretcache `SecretCache().get_secret_field`",
    """\
from secretcache import SecretCache
_t1 = time.perf_counter()
cache = SecretCache()
_t2 = time.perf_counter()
value = cache.get_secret_field(SECRET_ID, "password")
""",
    "secretcache",
    pythonpath=ROOT,
)
EXTENSION = Handler(
    "extension",
    "secretcache through the extension `SecretCache().get_secret_field` (in Lambda)",
    """\
from secretcache import SecretCache
_t1 = time.perf_counter()
cache = SecretCache()  # in Lambda with the layer: reads through the extension
_t2 = time.perf_counter()
value = cache.get_secret_field(SECRET_ID, "password")
""",
    "secretcache",
    pythonpath=ROOT,
    extension=True,
)
HTTP_FLOOR = Handler(
    "http",
    "floor: interpreter + `http.client` (one GET to the extension, JSON parsed)",
    """\
import http.client, json, os
from urllib.parse import quote
_t1 = _t2 = time.perf_counter()
port = int(os.environ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"])
conn = http.client.HTTPConnection("localhost", port)
conn.request(
    "GET",
    "/secretsmanager/get?secretId=" + quote(SECRET_ID, safe=""),
    headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]},
)
value = json.loads(json.loads(conn.getresponse().read())["SecretString"])["password"]
""",
    None,
    floor=True,
    extension=True,
)
BOTO3 = Handler(
    "boto3",
    'raw boto3 `boto3.client("secretsmanager")`',
    """\
import json
import boto3
_t1 = time.perf_counter()
client = boto3.client("secretsmanager")
_t2 = time.perf_counter()
value = json.loads(client.get_secret_value(SecretId=SECRET_ID)["SecretString"])["password"]
""",
    "boto3",
)
POWERTOOLS = Handler(
    "powertools",
    'Powertools `parameters.get_secret(transform="json")`',
    """\
from aws_lambda_powertools.utilities import parameters
_t1 = time.perf_counter()
_t2 = time.perf_counter()  # its provider and client are built by the first read
value = parameters.get_secret(SECRET_ID, transform="json")["password"]
""",
    "aws-lambda-powertools",
)
AWS = Handler(
    "aws",
    "aws-secretsmanager-caching `SecretCache().get_secret_string`",
    """\
import json
from aws_secretsmanager_caching import SecretCache
_t1 = time.perf_counter()
cache = SecretCache()
_t2 = time.perf_counter()
value = json.loads(cache.get_secret_string(SECRET_ID))["password"]
""",
    "aws-secretsmanager-caching",
)
BOTOCORE = Handler(
    "botocore",
    'floor: botocore alone `get_session().create_client("secretsmanager")`',
    """\
import json
import botocore.session
_t1 = time.perf_counter()
client = botocore.session.get_session().create_client("secretsmanager")
_t2 = time.perf_counter()
value = json.loads(client.get_secret_value(SecretId=SECRET_ID)["SecretString"])["password"]
""",
    "botocore",
    floor=True,
)
BARE = Handler(
    "bare",
    "floor: a bare interpreter (no import, no read)",
    """\
_t1 = _t2 = time.perf_counter()
value = __import__("os").environ["COLDSTART_EXPECT"]
""",
    None,
    floor=True,
)

HANDLERS = [SECRETCACHE, EXTENSION, BOTO3, POWERTOOLS, AWS, BOTOCORE, HTTP_FLOOR, BARE]
LIBRARIES = [SECRETCACHE, BOTO3, POWERTOOLS, AWS]


# -- the server and the children ------------------------------------------------------


@contextmanager
def moto_server() -> Iterator[str]:
    """Start a moto server on 127.0.0.1 holding the JSON secret; yield its URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset) as response:
            assert response.status == 200
        admin = boto3.Session(region_name=h.REGION).client("secretsmanager", endpoint_url=url)
        admin.create_secret(Name=SECRET_ID, SecretString=json.dumps(_SECRET))
        yield url
    finally:
        server.stop()


_SECRET = {"username": "app", "password": "coldstart-not-a-secret"}

_EMULATOR = """
import json, sys
import boto3
from secretcache.testing import ExtensionEmulator
client = boto3.Session(region_name=sys.argv[2]).client("secretsmanager", endpoint_url=sys.argv[1])
with ExtensionEmulator(client=client) as emulator:
    print(json.dumps(emulator.env), flush=True)
    sys.stdin.read()  # until the parent closes it
"""


@contextmanager
def emulator_process(endpoint: str) -> Iterator[dict[str, str]]:
    """Run ExtensionEmulator in a process of its own; yield what a child needs to find it."""
    env = {**child_env(endpoint), "PYTHONPATH": ROOT}
    process = subprocess.Popen(
        [sys.executable, "-c", _EMULATOR, endpoint, h.REGION],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process did not start")
        yield {**json.loads(line), "AWS_LAMBDA_FUNCTION_NAME": "coldstart"}
    finally:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()


def child_env(endpoint: str) -> dict[str, str]:
    """Return a Lambda-like environment: keys and region set, the endpoint moto's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "SECRETCACHE_", "POWERTOOLS_"))
        and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONSTARTUP", "PYTHONPROFILEIMPORTTIME")
    }
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=h.REGION,  # Lambda sets both
        AWS_DEFAULT_REGION=h.REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=endpoint,
        COLDSTART_EXPECT=_SECRET["password"],
    )
    return env


@dataclass
class Run:
    """One child's figures."""

    wall_ms: float
    cpu_ms: float
    value_ms: float  # from spawn to the value in hand: what a Lambda init pays (no exit)
    import_ms: float
    build_ms: float
    read_ms: float
    maxrss_kib: int
    boto3: bool
    secretcache_from: str | None


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def baseline(path: str) -> Handler:
    """Return the secretcache row run against another checkout (its ``secretcache/``)."""
    if not os.path.isfile(os.path.join(path, "secretcache", "__init__.py")):
        raise SystemExit(f"--baseline {path}: no secretcache/__init__.py there")
    return dataclasses.replace(
        SECRETCACHE,
        key="baseline",
        label=f"secretcache from `{path}` (baseline)",
        pythonpath=os.path.abspath(path),
    )


def _child(handler: Handler, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Return the child's command line and environment."""
    code = f"SECRET_ID = {SECRET_ID!r}\n" + handler.code
    if not handler.extension:
        env = {k: v for k, v in env.items() if k not in _EXTENSION_ENV}
    if handler.pythonpath is not None:
        env = {**env, "PYTHONPATH": handler.pythonpath}
    return [sys.executable, "-c", code], env


_EXTENSION_ENV = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
    "AWS_SESSION_TOKEN",
)


def _report(handler: Handler, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Return the child's report; fail loudly if it failed or read the wrong value."""
    if done.returncode != 0:
        raise RuntimeError(f"{handler.key} failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not report.pop("ok"):
        raise RuntimeError(f"{handler.key} read the wrong value")
    return report


def run_once(handler: Handler, env: dict[str, str], cwd: str) -> Run:
    """Run one cold start in a fresh interpreter.

    ``cwd`` is an empty directory: ``python -c`` puts the working directory first on
    ``sys.path``, and a checkout there would shadow the installed packages.
    """
    command, env = _child(handler, env)
    cpu_before = _children_cpu()
    start = time.perf_counter()
    spawned = time.monotonic()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall_ms = (time.perf_counter() - start) * 1e3
    cpu_ms = (_children_cpu() - cpu_before) * 1e3  # children run one at a time
    report = _report(handler, done)
    value_ms = (report.pop("value_at") - spawned) * 1e3
    return Run(wall_ms=wall_ms, cpu_ms=cpu_ms, value_ms=value_ms, **report)


def count_instructions(handler: Handler, env: dict[str, str], cwd: str) -> float | None:
    """Return the millions of instructions one cold start executes (None: no valgrind).

    Counted by valgrind's callgrind with a fixed hash seed: unlike time, the count does
    not move with other load on the machine, so it shows differences of a few percent.
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    command, env = _child(handler, {**env, "PYTHONHASHSEED": "0"})
    done = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    _report(handler, done)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"{handler.key}: no instruction count from valgrind")
    return int(found.group(1)) / 1e6


# -- measuring ------------------------------------------------------------------------


@dataclass
class Results:
    """Every run of every handler, by key, in round order."""

    rounds: int
    handlers: list[Handler]
    runs: dict[str, list[Run]] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end
    instructions: dict[str, float | None] = field(default_factory=dict)  # millions

    def median(self, key: str, attr: str) -> float:
        """Return the median of one figure over a handler's runs."""
        return h.median([float(getattr(r, attr)) for r in self.runs[key]])

    def ratio(self, key: str, other: str, attr: str = "wall_ms") -> float:
        """Return the median over rounds of key's time / other's (wall time by default)."""
        pairs = zip(self.runs[key], self.runs[other], strict=True)
        return h.median([getattr(a, attr) / getattr(b, attr) for a, b in pairs])

    def imports_boto3(self, key: str) -> bool:
        """Return True if any run of the handler imported boto3."""
        return any(r.boto3 for r in self.runs[key])


def measure(
    *, quick: bool = False, rounds: int | None = None, extra: Sequence[Handler] = ()
) -> Results:
    """Run every handler once unrecorded, then ``rounds`` shuffled rounds.

    Instructions are counted once per handler after the rounds, except in quick mode
    (under valgrind a cold start takes seconds).
    """
    rounds = rounds or (2 if quick else 21)
    handlers = [*HANDLERS, *extra]
    results = Results(rounds, handlers, {hd.key: [] for hd in handlers})
    shuffle = random.Random(16)
    load_before = os.getloadavg()[0]
    with (
        moto_server() as endpoint,
        emulator_process(endpoint) as extension_env,
        tempfile.TemporaryDirectory() as cwd,
    ):
        # The extension's variables reach only the extension's rows (see _child).
        env = {**child_env(endpoint), **extension_env}
        for handler in handlers:
            run_once(handler, env, cwd)  # writes the bytecode caches; not counted
        for _ in range(rounds):
            order = list(handlers)
            shuffle.shuffle(order)
            for handler in order:
                results.runs[handler.key].append(run_once(handler, env, cwd))
        results.load = (load_before, os.getloadavg()[0])
        for handler in handlers:
            counted = None if quick else count_instructions(handler, env, cwd)
            results.instructions[handler.key] = counted
    return results


# -- rendering ------------------------------------------------------------------------


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def verdict(r: Results) -> tuple[float, bool]:
    """Return secretcache's wall-time ratio to raw boto3 and whether it meets TARGET."""
    ratio = r.ratio(SECRETCACHE.key, BOTO3.key)
    return ratio, ratio <= TARGET


def extension_verdict(r: Results) -> str:
    """Return the extension row's figures against its targets, in words."""
    wall = r.ratio(EXTENSION.key, BOTO3.key)
    mine, boto3 = r.instructions.get(EXTENSION.key), r.instructions.get(BOTO3.key)
    rss = r.median(EXTENSION.key, "maxrss_kib") / 1024
    counted = mine is not None and boto3 is not None
    instr = f"{mine / boto3:.3f}x" if counted else "n/a"  # type: ignore[operator]
    met = wall <= EXTENSION_TARGET and rss <= EXTENSION_RSS_MIB
    met = met and (not counted or mine / boto3 <= EXTENSION_TARGET)  # type: ignore[operator]
    floor = r.ratio(HTTP_FLOOR.key, BOTO3.key)
    return (
        f"**Target: secretcache through the extension <= {EXTENSION_TARGET}x raw boto3 (wall "
        f"time and instructions), peak RSS <= {EXTENSION_RSS_MIB:g} MiB. Measured: {wall:.3f}x "
        f"wall, {instr} instructions, {rss:.1f} MiB, {'met' if met else 'not met'}.** The "
        f"floor (interpreter + `http.client`, one GET): {floor:.3f}x wall, "
        f"{_instructions(r, HTTP_FLOOR.key)} instructions."
    )


def _vs(r: Results, key: str, other: str, attr: str = "wall_ms") -> str:
    return "1" if key == other else f"{r.ratio(key, other, attr):.3f}x"


def _instructions(r: Results, key: str) -> str:
    mine, boto3 = r.instructions.get(key), r.instructions.get(BOTO3.key)
    if mine is None or boto3 is None:
        return "n/a"
    return f"{mine:,.0f} M ({mine / boto3:.3f}x)"


def table(r: Results) -> str:
    """Return the cold-start table (medians, ratios, instructions, peak memory)."""
    bare_rss = r.median(BARE.key, "maxrss_kib")
    out = [
        "| handler | wall (median) | x raw boto3 | secretcache / this | "
        "instructions (x raw boto3) | peak RSS | beyond a bare interpreter | imports boto3 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for hd in r.handlers:
        k = hd.key
        rss = r.median(k, "maxrss_kib")
        out.append(
            f"| {hd.label} | {r.median(k, 'wall_ms'):,.1f} ms | {_vs(r, k, BOTO3.key)} | "
            f"{_vs(r, SECRETCACHE.key, k)} | {_instructions(r, k)} | {_mib(rss)} | "
            f"{_mib(rss - bare_rss)} | {'yes' if r.imports_boto3(k) else 'no'} |"
        )
    return "\n".join(out)


def phases(r: Results) -> str:
    """Return where each handler's time goes (medians; CPU and time to the value)."""
    out = [
        "| handler | CPU (x raw boto3) | to the value (x raw boto3) | import | "
        "build + first read |",
        "|---|---|---|---|---|",
    ]
    for hd in r.handlers:
        k = hd.key
        build_read = r.median(k, "build_ms") + r.median(k, "read_ms")
        out.append(
            f"| {hd.label} | {r.median(k, 'cpu_ms'):,.1f} ms ({_vs(r, k, BOTO3.key, 'cpu_ms')}) "
            f"| {r.median(k, 'value_ms'):,.1f} ms ({_vs(r, k, BOTO3.key, 'value_ms')}) | "
            f"{r.median(k, 'import_ms'):,.1f} ms | {build_read:,.1f} ms |"
        )
    return "\n".join(out)


def _method() -> str:
    text = __doc__.split("\n\nMethod: ", 1)[1].strip().replace("\n", " ")
    return text[:1].upper() + text[1:]


def render(r: Results, info: dict[str, str]) -> str:
    """Return the cold-start section of RESULTS.md."""
    ratio, met = verdict(r)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = {os.path.relpath(str(run.secretcache_from), root) for run in r.runs[SECRETCACHE.key]}
    return "\n".join(
        [
            "## Lambda cold start (`bench/coldstart.py`)",
            "",
            f"- date: {info['date']}",
            f"- machine: {info['nproc']} cores, {info['cpu']}, {info['platform']}",
            f"- Python: {info['python']}",
            f"- versions: {info['versions']}",
            f"- command: `{info['command']}` (via `make bench`)",
            f"- rounds: {r.rounds} (each handler once per round, shuffled); 1-minute load "
            f"average {r.load[0]:.2f} at the start, {r.load[1]:.2f} at the end",
            f"- secretcache imported from: {', '.join(sorted(source))} (this checkout)",
            "",
            f"**Target: secretcache <= {TARGET}x raw boto3 (wall time). Measured: "
            f"{ratio:.3f}x, {'met' if met else 'not met'}.** CPU time, which other load "
            f"on the machine disturbs less: "
            f"{r.ratio(SECRETCACHE.key, BOTO3.key, 'cpu_ms'):.3f}x. From spawn to the value "
            f"in hand (what a Lambda init pays; the interpreter's exit left out): "
            f"{r.ratio(SECRETCACHE.key, BOTO3.key, 'value_ms'):.3f}x. Instructions "
            f"executed (deterministic): {_instructions(r, SECRETCACHE.key)}.",
            "",
            extension_verdict(r),
            "",
            table(r),
            "",
            "Where the time goes:",
            "",
            phases(r),
            "",
            "### Method",
            "",
            _method(),
            "Import is the child's own time for the `import` lines; build + first read "
            "covers the module-level cache or client and the first read (secretcache and "
            "Powertools build their client inside that read); peak RSS is the child's "
            "`VmHWM` (`ru_maxrss` would report the parent's size, which Linux carries "
            "across fork and exec). "
            "aws-secretsmanager-caching makes two calls on a cold read (DescribeSecret, "
            "then GetSecretValue); the others one.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Measure, print and record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds; don't write")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 21)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also run secretcache from DIR (a checkout of another commit); print only",
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 7 and not args.quick:
        parser.error("a recorded run needs at least 7 rounds")
    extra = [baseline(args.baseline)] if args.baseline else []
    started = time.perf_counter()
    results = measure(quick=args.quick, rounds=args.rounds, extra=extra)
    text = render(results, h.machine())
    print(text)
    print(f"\n(coldstart.py took {time.perf_counter() - started:.0f} s)")
    if not (args.quick or args.no_write or args.baseline):
        h.write_section("coldstart", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
