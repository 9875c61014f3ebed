"""What the IPP/2.1, 2.2 and IPP Everywhere attributes of a queue promise, done for real: a
provider in front of a real ``ippeveprinter``, driven over real sockets by IPP clients (our
client, pyipp), with the App Server charging what printed.

Subscriptions deliver the events of real jobs; operators (named in the provider's
configuration, signed in with HTTP Basic) pause, disable, hold and reorder queues;
page ranges, number-up and several documents per job reach the printer laid out and are
charged as printed; supplies come from the printer; Identify-Printer reaches it.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from PIL import Image

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    GroupTag,
    IntRange,
    Message,
    Operation,
    StatusCode,
    Value,
)
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.ipp.client import IppClient, IppError, IppProtocolError
from printwarden.sim.ports import free_port
from support.appserver import AppServer
from support.ippeveprinter import IppEvePrinter
from support.provider import PrinterSpec, ProviderProcess, QueueSpec
from support.seeding import PRICES, add_user, wait_for

PASSWORD = "ipp everywhere, every queue"
GREY = "/Helvetica findfont 40 scalefont setfont 72 600 moveto (page) show showpage"
S = StatusCode


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    printer: IppEvePrinter
    spare: IppEvePrinter
    started: datetime
    folder: Path

    def client(self, queue: str = "direct", user: str = "alice", **kwargs: Any) -> IppClient:
        return IppClient(self.provider.uri(queue), user_name=user, timeout=30, **kwargs)

    def operator(self, queue: str = "direct") -> IppClient:
        return self.client(queue, user="oper", auth=("oper", PASSWORD))

    def balance(self, user: str) -> int:
        value: int = self.admin.get(f"/users/{user}").json()["balance"]
        return value

    def charged(self, user: str, job_name: str) -> dict[str, Any]:
        """``user``'s job named ``job_name`` as HQ recorded it once charged (``/me/jobs``:
        its own charge, which a late charge of an earlier test's job does not blur)."""
        login = {"username": user, "password": PASSWORD}
        token = httpx.post(f"{self.app.api}/auth/login", json=login, timeout=30).json()["token"]
        with httpx.Client(base_url=self.app.api, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as me:  # fmt: skip

            def recorded() -> dict[str, Any] | None:
                jobs: list[dict[str, Any]] = me.get("/me/jobs").json()
                return next((j for j in jobs if j["document_name"] == job_name), None)

            found: dict[str, Any] = wait_for(recorded, f"the charge of {job_name}")
            return found

    def job(self, job_id: int, queue: str = "direct") -> AttributeGroup:
        with self.client(queue) as client:
            return client.get_job_attributes(job_id)

    def wait_state(self, job_id: int, state: int, queue: str = "direct") -> None:
        wait_for(lambda: self.job(job_id, queue).value("job-state") == state, f"job {job_id}")

    def printed_pages(self, job_name: str) -> int:
        """Pages of the PDF the printer received for the job named ``job_name``."""

        def received() -> Path | None:
            found = [p for p in self.printer.spool_dir.iterdir() if job_name in p.name]
            return found[0] if found and found[0].suffix != ".prn" else None

        path: Path = wait_for(received, f"{job_name} at the printer")
        data = wait_for(lambda: _whole(path), f"{job_name} written")
        with pikepdf.open(io.BytesIO(data)) as pdf:
            return len(pdf.pages)

    def arrival(self, job_name: str) -> int:
        """The printer's own job id of the job named ``job_name`` (its order of arrival)."""
        found = wait_for(
            lambda: [p for p in self.printer.spool_dir.iterdir() if job_name in p.name],
            f"{job_name} at the printer",
        )
        return int(found[0].name.split("-", 1)[0])


def _whole(path: Path) -> bytes | None:
    first = path.read_bytes()
    time.sleep(0.1)
    second = path.read_bytes()
    return second if second == first and second.rstrip().endswith(b"%%EOF") else None


def pdf(world: World, pages: int, name: str) -> bytes:
    path = world.folder / f"{name}.pdf"
    command = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
               "-sPAPERSIZE=a4", f"-sOutputFile={path}", "-c", *[GREY] * pages]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path.read_bytes()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("everywhere")
    started = datetime.now(UTC)
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    printer = IppEvePrinter("pw-everywhere", color=True)
    printer.start()
    spare = IppEvePrinter("pw-spare", color=False, port=free_port())  # same URI after a restart
    spare.start()
    admin = httpx.Client(
        base_url=app.api, headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'boss')}"}
    )
    body = {"name": "laser", "colour": True, "cost_model": {"sizes": {"default": PRICES}}}
    assert admin.post("/printers", json=body).status_code == 201
    spare_body = {**body, "name": "spare", "colour": False}
    assert admin.post("/printers", json=spare_body).status_code == 201
    add_user(admin, "alice", 10_000, password=PASSWORD)
    add_user(admin, "bob", 10_000, password=PASSWORD)
    add_user(admin, "oper", 10_000, password=PASSWORD)
    provider = ProviderProcess(
        server_url=app.url,
        token=app.token(Role.PROVIDER),
        directory=root,
        printers=[
            PrinterSpec("laser", printer.uri, colour=None),
            PrinterSpec("spare", spare.uri, colour=None),
        ],
        queues=[
            QueueSpec("direct", "direct", "laser"),
            QueueSpec("spare", "direct", "spare"),
            QueueSpec("held", "direct", "laser"),
            QueueSpec("secure", "hold", "laser"),
        ],
        extra=['operators = ["oper"]'],
    )
    provider.start()
    try:
        yield World(app, admin, provider, printer, spare, started, root)
    finally:
        provider.stop()
        printer.stop()
        spare.stop()
        admin.close()
        app.stop()


def attributes(
    world: World, *names: str, queue: str = "direct", document_format: str = ""
) -> AttributeGroup:
    """Get-Printer-Attributes of ``names`` (for ``document_format``, when given)."""
    operation = [Attribute("requested-attributes", T.KEYWORD, list(names))]
    if document_format:
        operation.append(Attribute("document-format", T.MIME_MEDIA_TYPE, [document_format]))
    with world.client(queue) as client:
        answer = client.request(Operation.GET_PRINTER_ATTRIBUTES, operation)
    group = answer.group(GroupTag.PRINTER)
    assert group is not None
    return group


# --- time and the printer behind the queue -----------------------------------------------------


def test_pyipp_sees_the_queue_booted_when_the_provider_started_not_in_1970(world: World) -> None:
    from pyipp import IPP

    async def read() -> datetime:
        async with IPP("127.0.0.1", port=world.provider.port, base_path="/ipp/print/direct") as c:
            return (await c.printer()).booted_at

    booted = asyncio.run(read())
    assert world.started - timedelta(seconds=60) < booted <= datetime.now(UTC)
    found = attributes(
        world, "printer-up-time", "printer-current-time", "printer-config-change-time"
    )
    current = found.value("printer-current-time")
    assert isinstance(current, datetime)
    assert abs((current - datetime.now(UTC)).total_seconds()) < 60
    up = found.value("printer-up-time")
    assert isinstance(up, int)
    assert up < (datetime.now(UTC) - world.started).total_seconds() + 60


def test_supplies_alerts_and_device_come_from_the_printer(world: World) -> None:
    with IppClient(world.printer.uri) as client:
        own = client.get_printer_attributes(["printer-supply", "printer-supply-description"])
    queue = attributes(
        world, "printer-supply", "printer-supply-description", "printer-alert",
        "printer-device-id", "identify-actions-supported", "ipp-versions-supported",
    )  # fmt: skip
    assert queue.values_of("printer-supply") == own.values_of("printer-supply")
    assert queue.values_of("printer-supply-description") == own.values_of(
        "printer-supply-description"
    )
    assert queue.values_of("printer-alert") == [
        b"code=printerReadyToPrint;severity=other;group=generalPrinter"
    ]
    device = str(queue.value("printer-device-id"))
    assert device.startswith("MFG:Example;MDL:Printer;")
    assert "CMD:PDF," in device  # what the queue takes, not only what the printer does
    assert "sound" in queue.values_of("identify-actions-supported")
    assert queue.values_of("ipp-versions-supported")[-2:] == ["2.1", "2.2"]


def test_a_printer_that_stops_answering_shows_offline_on_its_queue(world: World) -> None:
    def reasons() -> list[Any]:
        return attributes(world, "printer-state-reasons", queue="spare").values_of(
            "printer-state-reasons"
        )

    world.spare.stop()
    try:
        with world.client("spare") as client:
            job_id = client.print_job(pdf(world, 1, "offline"), document_format="application/pdf")
        wait_for(lambda: "offline-report" in reasons(), "the queue showing its printer offline")
        alert = attributes(world, "printer-alert", queue="spare").value("printer-alert")
        assert alert == b"code=subunitOffline;severity=other;group=generalPrinter"
    finally:
        world.spare.start()
    world.wait_state(job_id, 9, "spare")
    wait_for(lambda: "offline-report" not in reasons(), "the queue showing its printer back")


def test_identify_printer_reaches_the_printer(world: World) -> None:
    with world.client() as client:
        client.request(
            Operation.IDENTIFY_PRINTER,
            [Attribute("identify-actions", T.KEYWORD, ["sound"]),
             Attribute("message", T.TEXT_WITHOUT_LANGUAGE, ["here I am"])],
        )  # fmt: skip
    wait_for(lambda: "Identify-Printer" in world.printer.log_text(), "the printer identified")


def test_page_ranges_depend_on_the_document_format_asked_about(world: World) -> None:
    raster = attributes(world, "page-ranges-supported", "number-up-supported",
                        document_format="image/pwg-raster")  # fmt: skip
    assert raster.value("page-ranges-supported") is False
    assert raster.values_of("number-up-supported") == [1]
    pdf_format = attributes(world, "page-ranges-supported", "number-up-supported",
                            document_format="application/pdf")  # fmt: skip
    assert pdf_format.value("page-ranges-supported") is True
    assert 4 in pdf_format.values_of("number-up-supported")


def test_icons_and_the_information_page_are_served(world: World) -> None:
    found = attributes(world, "printer-icons", "printer-more-info", "printer-supply-description")
    icons = [str(uri) for uri in found.values_of("printer-icons")]
    assert len(icons) == 3
    for uri, size in zip(icons, (48, 128, 512), strict=True):
        response = httpx.get(uri)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(response.content)).size == (size, size)
    page = httpx.get(str(found.value("printer-more-info")))
    assert page.status_code == 200
    assert str(found.values_of("printer-supply-description")[0]) in page.text


# --- subscriptions -----------------------------------------------------------------------------


def subscribe(client: IppClient, events: list[str], **operation: int) -> Message:
    group = AttributeGroup(
        GroupTag.SUBSCRIPTION,
        [Attribute("notify-pull-method", T.KEYWORD, ["ippget"]),
         Attribute("notify-events", T.KEYWORD, list[Value](events))],
    )  # fmt: skip
    extra = [Attribute(name, T.INTEGER, [value]) for name, value in operation.items()]
    op = Operation.CREATE_JOB_SUBSCRIPTIONS if operation else Operation.CREATE_PRINTER_SUBSCRIPTIONS
    return client.request(op, extra, [group])


def notifications(client: IppClient, subscription: int, first: int = 1) -> Message:
    return client.request(
        Operation.GET_NOTIFICATIONS,
        [Attribute("notify-subscription-ids", T.INTEGER, [subscription]),
         Attribute("notify-sequence-numbers", T.INTEGER, [first])],
    )  # fmt: skip


def events_of(answer: Message) -> list[tuple[Any, Any, Any]]:
    return [
        (g.value("notify-sequence-number"), g.value("notify-subscribed-event"),
         g.value("notify-job-id"))
        for g in answer.groups_of(GroupTag.EVENT_NOTIFICATION)
    ]  # fmt: skip


def test_a_printer_subscription_pulls_the_events_of_real_jobs(world: World) -> None:
    with world.client() as client:
        made = subscribe(client, ["job-created", "job-completed"])
        subscription = made.group(GroupTag.SUBSCRIPTION)
        assert subscription is not None
        sub_id = subscription.value("notify-subscription-id")
        assert isinstance(sub_id, int)
        job_id = client.print_job(pdf(world, 1, "subscribed"), document_format="application/pdf",
                                  job_name="subscribed")  # fmt: skip

        def completed() -> list[tuple[Any, Any, Any]] | None:
            seen = events_of(notifications(client, sub_id))
            return seen if (seen and seen[-1][1:] == ("job-completed", job_id)) else None

        seen = wait_for(completed, "the job-completed event")
        assert seen[0][1:] == ("job-created", job_id)
        assert [number for number, _, _ in seen] == list(range(1, len(seen) + 1))
        answer = notifications(client, sub_id, first=len(seen))
        assert [number for number, _, _ in events_of(answer)] == [len(seen)]
        interval = answer.operation.value("notify-get-interval") if answer.operation else None
        assert isinstance(interval, int)
        listed = client.request(Operation.GET_SUBSCRIPTIONS)
        assert sub_id in [g.value("notify-subscription-id")
                          for g in listed.groups_of(GroupTag.SUBSCRIPTION)]  # fmt: skip
        renewed = client.request(
            Operation.RENEW_SUBSCRIPTION,
            [Attribute("notify-subscription-id", T.INTEGER, [sub_id]),
             Attribute("notify-lease-duration", T.INTEGER, [600])],
        )  # fmt: skip
        assert renewed.operation is not None
        assert renewed.operation.value("notify-lease-duration") == 600
        with world.client(user="bob") as bob, pytest.raises(IppError) as refused:
            notifications(bob, sub_id)
        assert refused.value.status == S.CLIENT_ERROR_NOT_AUTHORIZED
        one = [Attribute("notify-subscription-id", T.INTEGER, [sub_id])]
        client.request(Operation.CANCEL_SUBSCRIPTION, one)
        with pytest.raises(IppError) as gone:
            client.request(Operation.GET_SUBSCRIPTION_ATTRIBUTES, one)
        assert gone.value.status == S.CLIENT_ERROR_NOT_FOUND


def test_a_job_subscription_made_with_print_job_completes_with_its_job(world: World) -> None:
    group = AttributeGroup(
        GroupTag.SUBSCRIPTION,
        [Attribute("notify-pull-method", T.KEYWORD, ["ippget"]),
         Attribute("notify-events", T.KEYWORD, ["job-state-changed"])],
    )  # fmt: skip
    with world.client() as client:
        operation = [Attribute("document-format", T.MIME_MEDIA_TYPE, ["application/pdf"])]
        answer = client.request(
            Operation.PRINT_JOB, operation, [AttributeGroup(GroupTag.JOB), group],
            document=pdf(world, 1, "job-subscribed"),
        )  # fmt: skip
        made = answer.group(GroupTag.SUBSCRIPTION)
        assert made is not None
        sub_id = made.value("notify-subscription-id")
        assert isinstance(sub_id, int)

        def complete() -> Message | None:
            pulled = notifications(client, sub_id)
            return pulled if pulled.code == S.SUCCESSFUL_OK_EVENTS_COMPLETE else None

        final = wait_for(complete, "successful-ok-events-complete")
        states = [g.value("job-state") for g in final.groups_of(GroupTag.EVENT_NOTIFICATION)]
        assert states[-1] == 9
        assert states[0] == 3  # job-created is also a job-state-changed


# --- layout, several documents, charged as printed -----------------------------------------------


def test_page_ranges_and_number_up_reach_the_printer_and_are_charged_as_printed(
    world: World,
) -> None:
    with world.client() as client:
        job_id = client.print_job(
            pdf(world, 5, "ranged"), document_format="application/pdf", job_name="ranged",
            attributes={"page-ranges": [IntRange(2, 4)], "number-up": 2},
        )  # fmt: skip
    world.wait_state(job_id, 9)
    assert world.printed_pages("ranged") == 2  # pages 2-3 on one side, 4 on the next
    charged = world.charged("alice", "ranged")
    assert (charged["pages"], charged["cost"]) == (2, 2 * PRICES["grey_simplex"])
    assert world.job(job_id).value("job-impressions-completed") == 2


def test_a_job_of_several_documents_prints_them_together_and_is_charged_for_all(
    world: World,
) -> None:
    with world.client() as client:
        created = client.request(
            Operation.CREATE_JOB, [Attribute("job-name", T.NAME_WITHOUT_LANGUAGE, ["two-docs"])],
            [AttributeGroup(GroupTag.JOB)],
        )  # fmt: skip
        job = created.group(GroupTag.JOB)
        assert job is not None
        job_id = job.value("job-id")
        assert isinstance(job_id, int)
        for number, (pages, last) in enumerate(((1, False), (2, True)), start=1):
            client.request(
                Operation.SEND_DOCUMENT,
                [Attribute("job-id", T.INTEGER, [job_id]),
                 Attribute("document-format", T.MIME_MEDIA_TYPE, ["application/pdf"]),
                 Attribute("document-name", T.NAME_WITHOUT_LANGUAGE, [f"part-{number}"]),
                 Attribute("last-document", T.BOOLEAN, [last])],
                document=pdf(world, pages, f"part-{number}"),
            )  # fmt: skip
        documents = client.request(
            Operation.GET_DOCUMENTS, [Attribute("job-id", T.INTEGER, [job_id])]
        )
    names = [g.value("document-name") for g in documents.groups_of(GroupTag.DOCUMENT)]
    assert names == ["two-docs", "part-2"]
    world.wait_state(job_id, 9)
    assert world.printed_pages("two-docs") == 3
    charged = world.charged("alice", "two-docs")
    assert (charged["pages"], charged["cost"]) == (3, 3 * PRICES["grey_simplex"])


# --- operators -----------------------------------------------------------------------------------


def operate(world: World, operation: Operation, queue: str = "direct") -> None:
    with world.operator(queue) as client:
        client.request(operation)


def test_only_signed_in_operators_operate_a_queue(world: World) -> None:
    with world.client() as anonymous, pytest.raises(IppProtocolError) as challenged:
        anonymous.request(Operation.PAUSE_PRINTER)
    assert challenged.value.http_status == 401
    with world.client(auth=("alice", PASSWORD)) as alice, pytest.raises(IppError) as refused:
        alice.request(Operation.PAUSE_PRINTER)
    assert refused.value.status == S.CLIENT_ERROR_FORBIDDEN
    state = attributes(world, "printer-state").value("printer-state")
    assert state == 3


def test_a_paused_queue_keeps_its_jobs_and_prints_them_by_priority_when_resumed(
    world: World,
) -> None:
    operate(world, Operation.PAUSE_PRINTER, "held")
    try:
        paused = attributes(world, "printer-state", "printer-state-reasons", queue="held")
        assert paused.value("printer-state") == 5
        assert "paused" in paused.values_of("printer-state-reasons")
        document = pdf(world, 1, "order")
        ids = {}
        with world.client("held") as client:
            for name, priority in (("first-low", 50), ("second-high", 90), ("third-low", 50)):
                ids[name] = client.print_job(
                    document, document_format="application/pdf", job_name=name,
                    attributes={"job-priority": priority},
                )  # fmt: skip
        time.sleep(1.5)
        assert all(world.job(i, "held").value("job-state") == 3 for i in ids.values())
        promoted = [Attribute("job-id", T.INTEGER, [ids["third-low"]])]
        with world.operator("held") as client:
            client.request(Operation.PROMOTE_JOB, promoted)
    finally:
        operate(world, Operation.RESUME_PRINTER, "held")
    for job_id in ids.values():
        world.wait_state(job_id, 9, "held")
    order = sorted(ids, key=world.arrival)
    assert order == ["third-low", "second-high", "first-low"]


def test_a_disabled_queue_refuses_jobs_until_it_is_enabled(world: World) -> None:
    operate(world, Operation.DISABLE_PRINTER, "held")
    try:
        assert (
            attributes(world, "printer-is-accepting-jobs", queue="held").value(
                "printer-is-accepting-jobs"
            )
            is False
        )
        with world.client("held") as client, pytest.raises(IppError) as refused:
            client.print_job(pdf(world, 1, "refused"), document_format="application/pdf")
        assert refused.value.status == S.SERVER_ERROR_NOT_ACCEPTING_JOBS
    finally:
        operate(world, Operation.ENABLE_PRINTER, "held")
    with world.client("held") as client:
        job_id = client.print_job(pdf(world, 1, "enabled"), document_format="application/pdf")
    world.wait_state(job_id, 9, "held")


def test_new_jobs_held_by_an_operator_print_once_released(world: World) -> None:
    operate(world, Operation.HOLD_NEW_JOBS, "held")
    try:
        with world.client("held") as client:
            job_id = client.print_job(pdf(world, 1, "held-new"), document_format="application/pdf")
        world.wait_state(job_id, 4, "held")
    finally:
        operate(world, Operation.RELEASE_HELD_NEW_JOBS, "held")
    world.wait_state(job_id, 9, "held")


def test_an_operator_describes_the_queue_and_subscribers_hear_of_it(world: World) -> None:
    with world.client() as watcher:
        made = subscribe(watcher, ["printer-config-changed"]).group(GroupTag.SUBSCRIPTION)
        assert made is not None
        sub_id = made.value("notify-subscription-id")
        assert isinstance(sub_id, int)
        with world.operator() as client:
            described = AttributeGroup(
                GroupTag.PRINTER,
                [Attribute("printer-location", T.TEXT_WITHOUT_LANGUAGE, ["Room 101"]),
                 Attribute("printer-geo-location", T.URI, ["geo:46.2,6.1"])],
            )  # fmt: skip
            client.request(Operation.SET_PRINTER_ATTRIBUTES, [], [described])
            name = Attribute("printer-name", T.NAME_WITHOUT_LANGUAGE, ["x"])
            wrong = AttributeGroup(GroupTag.PRINTER, [name])
            with pytest.raises(IppError) as refused:
                client.request(Operation.SET_PRINTER_ATTRIBUTES, [], [wrong])
            assert refused.value.status == S.CLIENT_ERROR_ATTRIBUTES_NOT_SETTABLE
        found = attributes(world, "printer-location", "printer-geo-location")
        assert found.value("printer-location") == "Room 101"
        assert found.value("printer-geo-location") == "geo:46.2,6.1"
        seen = events_of(notifications(watcher, sub_id))
        assert [event for _, event, _ in seen] == ["printer-config-changed"]


# --- jobs ----------------------------------------------------------------------------------------


def test_owners_rename_and_reprioritise_their_held_jobs_and_no_one_else(world: World) -> None:
    with world.client("secure") as client:
        job_id = client.print_job(pdf(world, 1, "mine"), document_format="application/pdf")
        world.wait_state(job_id, 4, "secure")
        change = AttributeGroup(
            GroupTag.JOB,
            [Attribute("job-name", T.NAME_WITHOUT_LANGUAGE, ["renamed"]),
             Attribute("job-priority", T.INTEGER, [70])],
        )  # fmt: skip
        client.request(Operation.SET_JOB_ATTRIBUTES, [Attribute("job-id", T.INTEGER, [job_id])],
                       [change])  # fmt: skip
    job = world.job(job_id, "secure")
    assert (job.value("job-name"), job.value("job-priority")) == ("renamed", 70)
    with world.client("secure", user="bob") as bob, pytest.raises(IppError) as refused:
        bob.request(Operation.SET_JOB_ATTRIBUTES, [Attribute("job-id", T.INTEGER, [job_id])],
                    [change])  # fmt: skip
    assert refused.value.status == S.CLIENT_ERROR_NOT_AUTHORIZED


def test_an_ended_job_cannot_be_printed_again_its_document_is_gone(world: World) -> None:
    with world.client() as client:
        job_id = client.print_job(pdf(world, 1, "once"), document_format="application/pdf")
        world.wait_state(job_id, 9)
        with pytest.raises(IppError) as refused:
            client.request(Operation.RESTART_JOB, [Attribute("job-id", T.INTEGER, [job_id])])
    assert refused.value.status == S.CLIENT_ERROR_NOT_POSSIBLE
    assert "deleted" in refused.value.message
