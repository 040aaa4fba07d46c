"""Hostile HTTP input: schemathesis generates requests from the server's own OpenAPI schema and sends
them to the real app (espeak engine, real scheduler, voice store and danmaku service) over loopback.
Must hold for every request: no 5xx, an answer within the timeout (no hang), and an answer that the schema
describes: its status is documented for the operation, and so are its content type, its headers and its
body (error bodies included: ``{"detail"}`` on /api, OpenAI's error object on /v1). The endless SSE route
is left out (it never ends by design); everything else in the schema is exercised."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from live_server import ThreadServer

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis (test extra)")
from _server_helpers import make_config  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from ishowtts.server.app import create_app  # noqa: E402

REQUEST_TIMEOUT_S = 20.0
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]
SKIP_PATHS = ("/api/danmaku/events",)  # an endless event stream
EXAMPLES = 150


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("schemathesis")
    cfg = make_config(
        data,
        engine={"kind": "espeak"},
        server={"max_text_chars": 400, "max_tts_chars": 400, "max_upload_bytes": 256 * 1024},
        queue={"max_size": 16, "timeout_s": 15.0},
        # danmaku/start must not reach the internet: a closed loopback port, quick give-up
        danmaku={
            "twitch_host": "127.0.0.1",
            "twitch_port": 9,
            "reconnect_base_s": 1.0,
            "reconnect_max_s": 5.0,
        },
    )
    with ThreadServer(create_app(cfg), log_level="warning", lifespan="on", timeout_graceful_shutdown=3) as srv:
        yield srv.url
    assert not srv.thread.is_alive(), "the server did not shut down within 30 s"


@pytest.fixture(scope="module")
def api_schema(live_url: str):
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    for path in SKIP_PATHS:
        schema = schema.exclude(path=path)
    return schema


def _operations(schema) -> list:
    ops = []
    for result in schema.get_all_operations():
        op = result.ok()  # an error here means the schema itself is broken: fail loudly
        ops.append(op)
    return ops


def _fuzz_operation(op, statuses: Counter[tuple[str, int]]):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=op.as_strategy())
    def run(case) -> None:
        response = case.call(timeout=REQUEST_TIMEOUT_S)  # a hang fails as a read timeout
        statuses[(op.label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, schemathesis.errors.FailureGroup) as exc:
            raise AssertionError(
                f"{response.status_code} from {op.label}: {response.text[:300]}\n{str(exc)[:1200]}\n"
                f"reproduce: {case.as_curl_command()}"
            ) from None

    return run


# schemathesis' own pytest plugin does not work with pytest 9 yet, so each operation gets a hypothesis
# run of its own here (same generator, same checks).
@pytest.mark.slow
def test_no_server_error_no_hang_and_answers_match_the_schema(api_schema) -> None:
    ops = _operations(api_schema)
    assert len(ops) >= 12, [op.label for op in ops]
    failures: list[str] = []
    statuses: Counter[tuple[str, int]] = Counter()
    for op in ops:
        run = _fuzz_operation(op, statuses)
        try:
            run()
        except Exception as exc:  # collect every operation's failure, not only the first
            failures.append(f"{op.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    # the run really exercised the API: every operation was called, and valid requests got through too
    called = {label for label, _ in statuses}
    assert called == {op.label for op in ops}, sorted({op.label for op in ops} - called)
    ok = sum(n for (_, code), n in statuses.items() if 200 <= code < 300)
    assert sum(statuses.values()) >= 5 * len(ops) and ok >= len(ops) // 2, statuses
    errors = sum(n for (_, code), n in statuses.items() if 400 <= code < 500)
    assert errors >= len(ops), statuses  # error bodies were checked against the schema too
    by_code: Counter[int] = Counter()
    for (_, code), n in statuses.items():
        by_code[code] += n
    print(
        f"schemathesis: {sum(statuses.values())} requests, {ok} 2xx, by status {dict(sorted(by_code.items()))}"
    )
