"""Property-based fuzzing of the JSON API: every operation in the OpenAPI schema of a real
``gongkai serve`` (SQLite and PostgreSQL), called with schemathesis' generated requests,
valid and invalid, as a platform administrator. No answer may be a 5xx.

Bounded and repeatable: a fixed number of examples per operation and mode, derandomised,
within a time budget per database (``GONGKAI_FUZZ_EXAMPLES`` raises the count). Every
5xx is collected with the request that caused it (as curl), and all are reported at once.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error

from tests.e2e.service import Service, gongkai

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("GONGKAI_FUZZ_EXAMPLES", "12"))
BUDGET_SECONDS = float(os.environ.get("GONGKAI_FUZZ_SECONDS", "45"))
# Calls that reach out to a server the caller names (the WeChat test button and preview):
# fuzzing them would make this test depend on the network, not on Gongkai.
OUTBOUND = ("/wechat/test", "/wechat/preview")


@dataclass
class Fuzzed:
    service: Service
    headers: dict[str, str]
    session: requests.Session = field(default_factory=requests.Session)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Fuzzed]:
    env = {
        **os.environ,
        "GONGKAI_DATA_DIR": str(tmp_path / "data"),
        "GONGKAI_DATABASE_URL": db_url if db_url.startswith("postgres") else "",
        "GONGKAI_DISPATCH_INTERVAL_SECONDS": "0.5",
    }
    gongkai(["init"], env)
    gongkai(["org", "create", "--code", "shulan", "--name", "舒兰市人民政府"], env)
    gongkai(["org", "create", "--code", "tiande", "--name", "天德乡", "--parent", "shulan"], env)
    token = gongkai(["token", "create", "--name", "fuzz-admin"], env)  # no --org: platform
    service = Service(env, tmp_path / "service.log")
    fuzzed = Fuzzed(service, {"Authorization": f"Bearer {token}"})
    item = {"org": "tiande", "title": "模糊测试", "body": "正文", "channels": ["website"]}
    fuzzed.session.post(f"{service.base}/api/v1/items", json=item, headers=fuzzed.headers)
    yield fuzzed
    fuzzed.session.close()
    service.terminate()


def _curl(case: Case, base: str) -> str:
    command: str = case.as_curl_command(headers={"Authorization": "Bearer ***"})
    return command.replace("http://localhost", base) if base not in command else command


def test_no_operation_answers_with_a_server_error(served: Fuzzed) -> None:
    base = served.service.base
    schema = schemathesis.openapi.from_url(
        f"{base}/openapi.json", headers=served.headers, timeout=30
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30, "the schema lost its operations"
    fuzzed = [op for op in operations if not op.path.endswith(OUTBOUND)]
    share = BUDGET_SECONDS / len(fuzzed) / 2  # each operation and mode: a slow one is cut short
    failures: dict[tuple[str, int], str] = {}
    deadline = 0.0

    def run(case: Case) -> None:
        if time.monotonic() > deadline:
            return
        response = case.call(
            base_url=base, session=served.session, headers=served.headers, timeout=30
        )
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (AssertionError, BaseExceptionGroup):  # schemathesis' FailureGroup
            key = (case.operation.label, response.status_code)
            failures.setdefault(key, f"{_curl(case, base)}\n    -> {response.text[:300]}")

    budget = settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    for operation in fuzzed:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy: st.SearchStrategy[Case] = operation.as_strategy(generation_mode=mode)
            deadline = time.monotonic() + share
            with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no inputs)
                budget(given(case=strategy)(run))()
    report = "\n".join(f"{label} -> {code}:\n  {req}" for (label, code), req in failures.items())
    assert not failures, f"{len(failures)} operations answered 5xx:\n{report}"
