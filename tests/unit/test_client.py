"""The User Client's pure parts: the SSE parser, the state built from events, money, the
token file, the reconnection schedule, the event reader's resume and fallback (over
``httpx.MockTransport``), logging in and out, and the terminal's prompts."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.client import tokenfile
from printwarden.client.api import ApiError, problem
from printwarden.client.backoff import Backoff
from printwarden.client.events import EventReader, Item, Status
from printwarden.client.main import display_available, parser
from printwarden.client.model import RECENT_LIMIT, ClientState, money
from printwarden.client.session import LoginFailed, log_in, log_out
from printwarden.client.sse import Message, SseParser
from printwarden.client.terminal import Cancelled, Output, PosixLines
from printwarden.client.tokenfile import Saved
from printwarden.client.wire import Event, question

SERVER = "http://print.example:8000"

# --- the SSE parser ------------------------------------------------------------------------


def parse(*chunks: bytes) -> list[Message]:
    sse = SseParser()
    return [message for chunk in chunks for message in sse.feed(chunk)]


STREAM = (
    b": hello, this is a comment\n"
    b'id: 1\nevent: hello\ndata: {"balance": 1250}\n\n'
    b": heartbeat\n\n"
    b"id: 2\nevent: message\ndata: line one\ndata: line two\n\n"
    b"event: balance\ndata: {}\n\n"
)


def test_messages_carry_their_id_kind_and_data() -> None:
    assert parse(STREAM) == [
        Message("hello", '{"balance": 1250}', "1"),
        Message("message", "line one\nline two", "2"),
        Message("balance", "{}", "2"),  # the last id stays until another id: field
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_chunks_split_anywhere_give_the_same_messages(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert parse(*chunks) == parse(STREAM)


def test_a_message_is_dispatched_only_at_its_blank_line() -> None:
    sse = SseParser()
    assert sse.feed(b"event: message\ndata: half") == []
    assert sse.feed(b" done\n") == []
    assert sse.feed(b"\n") == [Message("message", "half done", "")]


def test_comments_and_heartbeats_make_no_messages() -> None:
    assert parse(b": keep-alive\n\n:\n\n: x\n\n") == []


def test_an_id_without_data_moves_the_last_id_but_sends_nothing() -> None:
    sse = SseParser()
    assert sse.feed(b"id: 7\n\n") == []
    assert sse.last_id == "7"
    assert sse.feed(b"data: x\n\n") == [Message("message", "x", "7")]


def test_an_id_with_a_nul_is_ignored() -> None:
    assert parse(b"id: 3\n\nid: a\x00b\ndata: x\n\n") == [Message("message", "x", "3")]


def test_unicode_split_inside_a_character() -> None:
    raw = 'data: {"text": "Grüße 🖨"}\n\n'.encode()
    cut = raw.index("🖨".encode()) + 2  # inside the 4-byte emoji
    umlaut = raw.index("ü".encode()) + 1
    messages = parse(raw[:umlaut], raw[umlaut:cut], raw[cut:])
    assert [json.loads(m.data)["text"] for m in messages] == ["Grüße 🖨"]


def test_crlf_and_cr_line_ends_even_split_between_chunks() -> None:
    assert parse(b"data: a\r", b"\n\r", b"\ndata: b\r\r") == [
        Message("message", "a", ""),
        Message("message", "b", ""),
    ]


def test_retry_keeps_digits_only_and_one_space_after_the_colon_is_dropped() -> None:
    sse = SseParser()
    sse.feed(b"retry: 2500\n\nretry: soon\n\n")
    assert sse.retry_ms == 2500
    assert parse(b"data:  two spaces\ndata\n\n") == [Message("message", " two spaces\n", "")]


def test_a_leading_byte_order_mark_is_dropped() -> None:
    assert parse(b"\xef\xbb\xbfdata: x\n\n") == [Message("message", "x", "")]


# --- money and the state -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "shown"),
    [(1250, "12.50 EUR"), (5, "0.05 EUR"), (0, "0.00 EUR"), (-30, "-0.30 EUR"),
     (100000, "1000.00 EUR"), (-100, "-1.00 EUR")],
)  # fmt: skip
def test_money_has_two_decimals_and_the_currency(minor: int, shown: str) -> None:
    assert money(minor, "EUR") == shown


def a_question(job: str = "j1", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job": job, "kind": "confirm", "document_name": f"{job}.pdf", "printer": "lab-1",
        "queue": "main", "pages": 3, "colour_pages": 1, "copies": 1, "cost": 30,
        "currency": "EUR", "accounts": [], "allow_personal": True, "comment": False,
        "answer_by": "2026-12-06T10:00:00Z", "on_timeout": "hold",
    }  # fmt: skip
    data.update(changes)
    return data


def hello(balance: int = 1250, questions: list[dict[str, Any]] | None = None, **more: Any) -> Event:
    data = {
        "username": "alice", "full_name": "Alice L.", "balance": balance, "restricted": True,
        "currency": "EUR", "low_balance": False, "questions": questions or [], "recent": [],
    }  # fmt: skip
    data.update(more)
    return Event("1", "hello", data)


def test_hello_sets_who_the_balance_the_questions_and_the_recent_jobs() -> None:
    state = ClientState()
    recent = [
        {"job": "a", "document_name": "old.pdf", "printer": "p", "pages": 1, "cost": 10,
         "account": "", "printed_at": "2026-12-06T08:00:00+00:00"},
        {"job": "b", "document_name": "new.pdf", "printer": "p", "pages": 2, "cost": 20,
         "account": "", "printed_at": "2026-12-06T09:00:00+00:00"},
    ]  # fmt: skip
    update = state.apply(hello(questions=[a_question()], recent=recent))
    assert update.greeted
    assert (state.username, state.balance, state.currency) == ("alice", 1250, "EUR")
    assert [n.text for n in update.notices] == ["Balance: 12.50 EUR"]
    assert list(state.questions) == ["j1"]
    assert [q.job for q in update.opened] == ["j1"]
    assert [n.text for n in state.recent] == [
        "Printed: new.pdf on p, 2 pages, 0.20 EUR",
        "Printed: old.pdf on p, 1 page, 0.10 EUR",
    ]


def test_a_question_is_open_until_it_is_closed() -> None:
    state = ClientState()
    state.apply(hello())
    opened = state.apply(Event("2", "question", a_question("j7")))
    assert [q.job for q in opened.opened] == ["j7"]
    assert state.questions["j7"].cost == 30
    again = state.apply(Event("3", "question", a_question("j7")))
    assert again.opened == []  # the same question sent twice opens once
    closed = state.apply(
        Event("4", "question.closed", {"job": "j7", "outcome": "held", "by": "portal"})
    )
    assert state.questions == {}
    assert [c.summary() for c in closed.closed] == ["j7.pdf: held (answered in the portal)"]


def test_questions_keep_their_order_of_arrival() -> None:
    state = ClientState()
    for job in ("b", "a", "c"):
        state.apply(Event(job, "question", a_question(job)))
    assert list(state.questions) == ["b", "a", "c"]


def test_a_later_hello_closes_the_questions_it_no_longer_lists() -> None:
    state = ClientState()
    state.apply(hello(questions=[a_question("j1"), a_question("j2")]))
    update = state.apply(hello(questions=[a_question("j2"), a_question("j3")]))
    assert list(state.questions) == ["j2", "j3"]
    assert [(c.job, c.outcome) for c in update.closed] == [("j1", "")]
    assert [q.job for q in update.opened] == ["j3"]


def test_a_balance_event_changes_the_balance_and_says_so_only_when_it_changed() -> None:
    state = ClientState()
    state.apply(hello(balance=1250))
    update = state.apply(Event("2", "balance", {"balance": 950, "currency": "EUR"}))
    assert state.balance == 950
    assert update.balance_changed
    assert [n.text for n in update.notices] == ["Balance: 9.50 EUR"]
    same = state.apply(Event("3", "balance", {"balance": 950, "currency": "EUR"}))
    assert same.notices == []
    assert not same.balance_changed


def test_the_low_flag_follows_hello_the_warning_and_the_threshold() -> None:
    state = ClientState()
    state.apply(hello(balance=100, low_balance=True))
    assert state.low
    state.apply(Event("2", "balance", {"balance": 5000, "currency": "EUR"}))
    assert state.low  # no threshold known yet: stays until one is
    warning = {"balance": 150, "threshold": 200, "currency": "EUR"}
    update = state.apply(Event("3", "balance.low", warning))
    assert state.low
    assert [n.text for n in update.notices] == ["Low balance: 1.50 EUR (below 2.00 EUR)"]
    state.apply(Event("4", "balance", {"balance": 199, "currency": "EUR"}))
    assert state.low
    state.apply(Event("5", "balance", {"balance": 200, "currency": "EUR"}))
    assert not state.low


def test_job_events_and_messages_become_one_line_notices() -> None:
    state = ClientState()
    state.apply(hello())
    events: list[tuple[str, dict[str, Any]]] = [
        ("job.printed", {"job": "1", "document_name": "report.pdf", "printer": "lab-1",
                         "pages": 3, "cost": 30, "account": "alice", "currency": "EUR"}),
        ("job.printed", {"job": "2", "document_name": "x.pdf", "printer": "lab-1",
                         "pages": 1, "cost": 10, "account": "Physics", "currency": "EUR"}),
        ("job.denied", {"job": "3", "document_name": "big.pdf", "printer": "lab-1",
                        "reason": "too many pages"}),
        ("job.held", {"job": "4", "document_name": "s.pdf", "printer": "lab-2",
                      "reason": "secure release"}),
        ("job.canceled", {"job": "5", "document_name": "c.pdf", "reason": ""}),
        ("message", {"text": "Lab closes at 6", "from": "admin"}),
    ]  # fmt: skip
    lines = [n.text for kind, data in events for n in state.apply(Event("", kind, data)).notices]
    assert lines == [
        "Printed: report.pdf on lab-1, 3 pages, 0.30 EUR",
        "Printed: x.pdf on lab-1, 1 page, 0.10 EUR (account Physics)",
        "Denied: big.pdf: too many pages",
        "Held: s.pdf on lab-2: secure release",
        "Canceled: c.pdf",
        "Message from admin: Lab closes at 6",
    ]
    assert next(n.text for n in state.recent) == "Message from admin: Lab closes at 6"


def test_the_recent_list_keeps_the_newest_only() -> None:
    state = ClientState()
    for number in range(RECENT_LIMIT + 5):
        state.apply(Event(str(number), "message", {"text": f"m{number}", "from": "a"}))
    texts = [n.text for n in state.recent]
    assert len(texts) == RECENT_LIMIT
    assert texts[0] == f"Message from a: m{RECENT_LIMIT + 4}"
    assert texts[-1] == "Message from a: m5"


def test_unknown_kinds_change_nothing() -> None:
    state = ClientState()
    state.apply(hello())
    update = state.apply(Event("9", "printer.on.fire", {"balance": 0, "job": "j1"}))
    assert update.notices == []
    assert update.opened == []
    assert update.closed == []
    assert state.balance == 1250


def test_a_question_is_read_leniently_and_offers_personal_first_when_allowed() -> None:
    shared = [{"name": "Physics", "needs_pin": True, "balance": 4000}, {"name": "Lab"}, {}]
    read = question(a_question(kind="account", accounts=shared, pages=None, copies="x"))
    assert read is not None
    assert read.pages is None
    assert read.copies == 1
    assert [(a.name, a.needs_pin, a.balance) for a in read.choices()] == [
        ("", False, None), ("Physics", True, 4000), ("Lab", False, None)
    ]  # fmt: skip
    assert read.answer_by is not None
    assert read.answer_by.utcoffset() is not None
    strict = question(a_question(kind="account", accounts=shared, allow_personal=False))
    assert strict is not None
    assert [a.name for a in strict.choices()] == ["Physics", "Lab"]
    assert question({"kind": "confirm"}) is None  # no job: not a question


# --- the token file ------------------------------------------------------------------------


@pytest.fixture
def no_umask() -> Iterator[None]:
    """The loosest umask, so that only the file's own creation mode keeps it private."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
@pytest.mark.usefixtures("no_umask")
def test_the_token_file_is_created_private(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "printwarden"
    path = tokenfile.save(Saved(SERVER, "alice", "secret-token"), directory)
    assert path == directory / "client.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {
        "server": SERVER, "username": "alice", "token": "secret-token"
    }  # fmt: skip
    assert [p.name for p in directory.iterdir()] == ["client.json"]  # no temporary left


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
@pytest.mark.usefixtures("no_umask")
def test_saving_replaces_a_readable_old_file_with_a_private_one(tmp_path: Path) -> None:
    old = tmp_path / "client.json"
    old.write_text("{}")
    old.chmod(0o644)
    tokenfile.save(Saved(SERVER, "alice", "t2"), tmp_path)
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert tokenfile.load(tmp_path) == Saved(SERVER, "alice", "t2")


def test_the_token_file_round_trips_and_is_deleted(tmp_path: Path) -> None:
    assert tokenfile.load(tmp_path) is None
    tokenfile.save(Saved(SERVER, "bob", "t"), tmp_path)
    assert tokenfile.load(tmp_path) == Saved(SERVER, "bob", "t")
    assert tokenfile.delete(tmp_path)
    assert tokenfile.load(tmp_path) is None
    assert not tokenfile.delete(tmp_path)


@pytest.mark.parametrize("text", ["not json", "[]", '{"server": "", "token": "t"}', '{"a": 1}'])
def test_a_broken_token_file_is_no_login(tmp_path: Path, text: str) -> None:
    (tmp_path / "client.json").write_text(text)
    assert tokenfile.load(tmp_path) is None


def test_the_config_directory_per_system_and_its_override(tmp_path: Path) -> None:
    home = Path("/home/alice")
    assert tokenfile.config_dir({}, "linux", home) == home / ".config" / "printwarden"
    assert tokenfile.config_dir({"XDG_CONFIG_HOME": "/x"}, "linux", home) == Path("/x/printwarden")
    mac = home / "Library" / "Application Support" / "printwarden"
    assert tokenfile.config_dir({}, "darwin", home) == mac
    roaming = {"APPDATA": "C:/Users/alice/AppData/Roaming"}
    windows = tokenfile.config_dir(roaming, "win32", home)
    assert windows == Path("C:/Users/alice/AppData/Roaming/printwarden")
    override = {tokenfile.CONFIG_DIR_ENV: str(tmp_path), "APPDATA": "C:/elsewhere"}
    for platform in ("linux", "darwin", "win32"):
        assert tokenfile.config_dir(override, platform, home) == tmp_path


# --- the reconnection schedule -------------------------------------------------------------


def test_backoff_doubles_from_one_second_to_thirty_and_resets() -> None:
    backoff = Backoff()
    assert [backoff.next() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    backoff.reset()
    assert [backoff.next() for _ in range(2)] == [1, 2]


# --- the event reader ----------------------------------------------------------------------


def sse_response(*events: tuple[str, str, dict[str, Any]]) -> httpx.Response:
    body = "".join(
        f"id: {eid}\nevent: {kind}\ndata: {json.dumps(data)}\n\n: beat\n\n"
        for eid, kind, data in events
    )
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


class Recorder:
    """Collects what a reader delivers; stops it once ``until`` says so."""

    def __init__(self, until: Callable[[list[Item]], bool]) -> None:
        self.items: list[Item] = []
        self.until = until
        self.reader: EventReader | None = None

    def __call__(self, item: Item) -> None:
        self.items.append(item)
        if self.until(self.items) and self.reader is not None:
            self.reader.stop()

    def run(self, handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> None:
        self.reader = EventReader(
            SERVER,
            "tok",
            self,
            transport=httpx.MockTransport(handler),
            backoff=Backoff(first=0.001, cap=0.001),
            **options,
        )
        thread = self.reader.start()
        thread.join(10)
        assert not thread.is_alive()

    def kinds(self) -> list[str]:
        return [i.kind if isinstance(i, Event) else f"<{i.state}>" for i in self.items]


def events_seen(count: int) -> Callable[[list[Item]], bool]:
    return lambda items: sum(isinstance(i, Event) for i in items) >= count


def test_the_reader_delivers_events_and_resumes_with_the_last_id() -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if len(asked) == 1:
            return sse_response(("e1", "hello", {"balance": 1}), ("e2", "balance", {"balance": 2}))
        return sse_response(("e2", "hello", {"balance": 2}), ("e3", "message", {"text": "x"}))

    recorder = Recorder(events_seen(4))
    recorder.run(handler)
    assert recorder.kinds() == ["<connected>", "hello", "balance", "hello", "message"]
    assert [r.url.path for r in asked] == ["/api/v1/me/events"] * 2
    assert asked[0].headers["authorization"] == "Bearer tok"
    assert asked[0].headers["accept"] == "text/event-stream"
    assert "last-event-id" not in asked[0].headers
    assert asked[1].headers["last-event-id"] == "e2"


def test_two_answered_stream_failures_switch_to_long_polling() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.path}?{request.url.query.decode()}")
        if request.url.path == "/api/v1/me/events":
            return httpx.Response(502, content=b"<html>proxy error</html>")
        events = [{"id": "p1", "event": "hello", "data": {"balance": 5}}]
        return httpx.Response(200, json={"events": events, "last_id": "p1"})

    recorder = Recorder(events_seen(2))
    recorder.run(handler)
    assert asked[:3] == [
        "/api/v1/me/events?",
        "/api/v1/me/events?",
        "/api/v1/me/events/poll?wait=25",
    ]
    assert asked[3] == "/api/v1/me/events/poll?wait=25&after=p1"
    assert recorder.kinds()[:4] == ["<waiting>", "<waiting>", "<connected>", "hello"]
    assert recorder.reader is not None
    assert recorder.reader.mode == "poll"


def test_a_refused_connection_does_not_count_towards_the_fallback() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 4:
            raise httpx.ConnectError("connection refused", request=request)
        return sse_response(("e1", "hello", {}))

    recorder = Recorder(events_seen(1))
    recorder.run(handler)
    assert recorder.reader is not None
    assert recorder.reader.mode == "sse"
    assert recorder.kinds() == ["<waiting>"] * 4 + ["<connected>", "hello"]


def test_an_answer_that_is_not_an_event_stream_counts_as_a_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/poll"):
            return httpx.Response(200, json={"events": [], "last_id": ""})
        return httpx.Response(200, headers={"content-type": "text/html"}, content=b"<p>hi</p>")

    recorder = Recorder(lambda items: any(getattr(i, "mode", "") == "poll" for i in items))
    recorder.run(handler)
    assert recorder.reader is not None
    assert recorder.reader.mode == "poll"


def test_a_refused_token_stops_the_reader_and_asks_to_log_in() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"title": "Unauthorized", "detail": "token revoked"})

    recorder = Recorder(lambda items: False)
    recorder.run(handler)
    assert recorder.items == [Status("login", detail="token revoked")]
    assert recorder.reader is not None
    assert recorder.reader.stopped


def test_forced_polling_resumes_after_the_last_id() -> None:
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(dict(request.url.params))
        event = {"id": f"p{len(asked)}", "event": "message", "data": {"text": "t"}}
        return httpx.Response(200, json={"events": [event], "last_id": f"p{len(asked)}"})

    recorder = Recorder(events_seen(3))
    recorder.run(handler, poll=True, last_id="p0")
    assert [a.get("after") for a in asked] == ["p0", "p1", "p2"]


# --- logging in and out --------------------------------------------------------------------


def login_server(
    status: int = 200, revoke: int = 204, seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if request.url.path == "/api/v1/auth/login":
            if status != 200:
                problem = {"title": "No", "detail": "slow down", "status": status}
                return httpx.Response(status, json=problem, headers={"Retry-After": "30"})
            body = {"token": "client-token", "role": "client", "expires_at": "2027-01-01T00:00:00Z"}
            return httpx.Response(200, json=body)
        if request.url.path == "/api/v1/me/client-tokens/current":
            return httpx.Response(revoke)
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def test_logging_in_asks_for_a_client_token_and_keeps_it(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    saved = log_in(SERVER + "/", "alice", "pw", tmp_path, transport=login_server(seen=seen))
    assert saved == Saved(SERVER, "alice", "client-token")
    assert tokenfile.load(tmp_path) == saved
    body = json.loads(seen[0].content)
    assert body["username"] == "alice"
    assert body["password"] == "pw"
    assert body["client"]  # the computer's name: a client token, not a user's


@pytest.mark.parametrize(
    ("status", "said"),
    [(401, "Wrong username or password."), (429, "Too many attempts (try again in 30 s)")],
)
def test_a_failed_login_says_why_and_keeps_nothing(tmp_path: Path, status: int, said: str) -> None:
    with pytest.raises(LoginFailed) as failed:
        log_in(SERVER, "alice", "bad", tmp_path, transport=login_server(status))
    assert failed.value.message.startswith(said)
    assert tokenfile.load(tmp_path) is None


def test_logging_out_revokes_the_token_then_deletes_the_file(tmp_path: Path) -> None:
    tokenfile.save(Saved(SERVER, "alice", "tok"), tmp_path)
    seen: list[httpx.Request] = []
    worked, _ = log_out(tmp_path, transport=login_server(seen=seen))
    assert worked
    assert [(r.method, r.url.path) for r in seen] == [
        ("DELETE", "/api/v1/me/client-tokens/current")
    ]
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert tokenfile.load(tmp_path) is None


def test_a_failed_revocation_keeps_the_token_file(tmp_path: Path) -> None:
    tokenfile.save(Saved(SERVER, "alice", "tok"), tmp_path)
    worked, message = log_out(tmp_path, transport=login_server(revoke=500))
    assert not worked
    assert "portal" in message
    assert tokenfile.load(tmp_path) == Saved(SERVER, "alice", "tok")


def test_the_password_is_never_a_command_line_option() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--password", "secret"])
    options = {option for action in parser()._actions for option in action.option_strings}
    assert not any("pass" in option for option in options)


def test_problem_json_gives_the_detail() -> None:
    request = httpx.Request("POST", SERVER)
    body = {"title": "Conflict", "detail": "answered already", "status": 409}
    error = problem(httpx.Response(409, json=body, request=request))
    assert (error.status, error.detail) == (409, "answered already")
    bare = problem(httpx.Response(502, content=b"<html>", request=request))
    assert isinstance(bare, ApiError)
    assert bare.detail == "HTTP 502 Bad Gateway"


def test_a_window_needs_a_display_on_linux_only() -> None:
    assert not display_available({}, "linux")
    assert display_available({"DISPLAY": ":0"}, "linux")
    assert display_available({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert display_available({}, "darwin")
    assert display_available({}, "win32")


def test_the_client_loads_no_server_code() -> None:
    """The client runs on users' computers: the standard library and httpx only."""
    probe = (
        "import sys, printwarden.client.main, printwarden.client.gui, printwarden.client.tui\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'fastapi', 'pydantic', 'starlette', 'typer', 'uvicorn') or "
        "(m.startswith('printwarden.') and not m.startswith('printwarden.client')))\n"
        "print(bad)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


# --- the terminal --------------------------------------------------------------------------


class Screen:
    """A text stream that keeps what was written."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_a_line_written_while_a_prompt_waits_goes_above_it() -> None:
    screen = Screen()
    out = Output(screen)  # type: ignore[arg-type]
    out.prompt("Print? [y/n] ")
    out.line("Balance: 9.50 EUR")
    out.answered(newline=True)
    out.line("done")
    assert screen.text == "Print? [y/n] \nBalance: 9.50 EUR\nPrint? [y/n] \ndone\n"


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest.mark.skipif(sys.platform == "win32", reason="select on a pipe")
def test_piped_answers_are_read_a_line_at_a_time(pipe: tuple[int, int]) -> None:
    read, write = pipe
    screen = Screen()
    lines = PosixLines(read, Output(screen))  # type: ignore[arg-type]
    os.write(write, b"1\n1234\r\nlast")
    os.close(write)
    assert lines.ask("Account number: ") == "1"
    assert lines.ask("PIN: ", secret=True) == "1234"
    assert lines.ask("Comment: ") == "last"
    with pytest.raises(EOFError):
        lines.ask("Print? [y/n] ")
    assert screen.text == "Account number: \nPIN: \nComment: \nPrint? [y/n] \n"


@pytest.mark.skipif(sys.platform == "win32", reason="select on a pipe")
def test_a_waiting_prompt_is_withdrawn_when_its_question_closes(pipe: tuple[int, int]) -> None:
    read, write = pipe
    lines = PosixLines(read, Output(Screen()))  # type: ignore[arg-type]
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(Cancelled):
        lines.ask("Print? [y/n] ", cancel=cancel)
    os.write(write, b"y\n")
    assert lines.ask("Print? [y/n] ") == "y"  # the next prompt gets the next line
