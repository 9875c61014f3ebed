"""A print job's life at a Print Provider: its phases, the events that move it, and the rules.

Pure: the provider's spool asks :func:`step` before every change of a job's phase and writes
the answer in the same transaction, so two threads racing on one job (a cancel while the
engine analyses it, a release while it expires) cannot both win. An event the machine
refuses in the job's phase changes nothing.

The main line (Create-Job starts ``incoming`` until Send-Document)::

    submit ─┬─► queued ─analyse─► analysing ─analysed─► deciding ─decide-allow─► allowed
            │     ▲ release                                │ decide-hold           │ send-start
            └─► held ◄─────────────────────────────────────┘                       ▼
                            completed ◄─send-done── sent ◄─send-accepted── sending

Besides: ``cancel`` from every phase before ``sending`` (and from ``stopped``) ends the job
``canceled``, as does ``decide-deny``; ``expire`` ends a job waiting in ``held``,
``incoming`` or ``awaiting-server``; ``defer`` waits for a server that did not answer, and
``server-back`` returns to ``queued`` or ``held``; ``printer-unavailable`` and ``job-error``
go back to ``queued``; ``printer-error`` and ``give-up`` end it ``aborted``;
``send-uncertain`` stops it; an operator may ``suspend`` a job that has not gone to the
printer (``suspended``) and ``resume`` it (back to ``queued``).

Before the document goes to the printer (``sending``), a cancel ends the job at once; from
then on it is refused: the document is leaving or has left, so the job ends as it prints.
A job that failed waits ``queued`` again (retried after a back-off) until :func:`on_error`
says to give up. ``stopped`` jobs were cut off mid-send where a resend could print twice;
only a person ends them. Final phases never change; only ``completed`` is charged.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """Where a job is. The first group rests until something happens to it; the second is
    the engine's work in progress; the last four are final."""

    INCOMING = "incoming"  # accepted by Create-Job; its document has not arrived
    HELD = "held"  # waits for a release (hold or Find-Me queue, job-hold-until, the server)
    AWAITING_SERVER = "awaiting-server"  # no server answered; the queue holds until one does
    QUEUED = "queued"  # waits for the engine (new, released, or after a failure's back-off)
    STOPPED = "stopped"  # cut off mid-send where a resend could print twice: a person decides
    SUSPENDED = "suspended"  # an operator suspended it before it went to the printer
    ANALYSING = "analysing"  # the engine reads the document
    DECIDING = "deciding"  # the engine asks the server
    ALLOWED = "allowed"  # allowed to print; the engine prepares (converts) the document
    SENDING = "sending"  # the document is going to the printer
    SENT = "sent"  # the printer holds the whole job; the engine waits for it to finish
    COMPLETED = "completed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    ABORTED = "aborted"


class Event(StrEnum):
    """What happens to a job."""

    DOCUMENT = "document"  # Send-Document, to print
    DOCUMENT_HELD = "document-held"  # Send-Document, to hold
    ANALYSE = "analyse"  # the engine takes the job
    ANALYSED = "analysed"
    DECIDE_ALLOW = "decide-allow"  # by the server, or by the queue's failure mode
    DECIDE_DENY = "decide-deny"  # the server denied or refused the job
    DECIDE_HOLD = "decide-hold"
    DEFER = "defer"  # no server answered and the queue holds
    SERVER_BACK = "server-back"
    SERVER_BACK_HELD = "server-back-held"
    HOLD = "hold"  # Hold-Job
    RELEASE = "release"
    CANCEL = "cancel"
    EXPIRE = "expire"
    SEND_START = "send-start"
    SEND_ACCEPTED = "send-accepted"  # the printer took the whole job
    SEND_DONE = "send-done"  # it printed
    PRINTER_UNAVAILABLE = "printer-unavailable"  # nothing reached the printer: retry later
    PRINTER_ERROR = "printer-error"  # the printer refused it, or it cannot be made printable
    SEND_UNCERTAIN = "send-uncertain"  # cut off mid-send; the printer may have printed it
    JOB_ERROR = "job-error"  # something failed in this job: retry after a back-off
    GIVE_UP = "give-up"  # it failed too often
    CRASH_RESTART = "crash-restart"  # the provider restarted; its printer speaks IPP
    CRASH_RESTART_RAW = "crash-restart-raw"  # …its printer is a raw socket or a file
    SUSPEND = "suspend"  # Suspend-Current-Job: an operator stops it before it is sent
    RESUME = "resume"  # Resume-Job: it waits for the engine again


P, E = Phase, Event
FINAL = frozenset({P.COMPLETED, P.CANCELED, P.EXPIRED, P.ABORTED})
RESTING = frozenset({P.INCOMING, P.HELD, P.AWAITING_SERVER, P.QUEUED, P.STOPPED, P.SUSPENDED})
WORKING = frozenset({P.ANALYSING, P.DECIDING, P.ALLOWED, P.SENDING, P.SENT})
BEFORE_SENDING = frozenset({P.ANALYSING, P.DECIDING, P.ALLOWED})
CANCELABLE = RESTING | BEFORE_SENDING
EXPIRABLE = frozenset({P.INCOMING, P.HELD, P.AWAITING_SERVER})

_TABLE: dict[tuple[Phase, Event], Phase] = {
    (P.INCOMING, E.DOCUMENT): P.QUEUED,
    (P.INCOMING, E.DOCUMENT_HELD): P.HELD,
    (P.QUEUED, E.ANALYSE): P.ANALYSING,
    (P.ANALYSING, E.ANALYSED): P.DECIDING,
    (P.DECIDING, E.DECIDE_ALLOW): P.ALLOWED,
    (P.DECIDING, E.DECIDE_DENY): P.CANCELED,
    (P.DECIDING, E.DECIDE_HOLD): P.HELD,
    (P.DECIDING, E.DEFER): P.AWAITING_SERVER,
    (P.AWAITING_SERVER, E.SERVER_BACK): P.QUEUED,
    (P.AWAITING_SERVER, E.SERVER_BACK_HELD): P.HELD,
    (P.QUEUED, E.HOLD): P.HELD,
    (P.HELD, E.HOLD): P.HELD,
    (P.INCOMING, E.HOLD): P.INCOMING,  # its document will be held when it comes
    (P.HELD, E.RELEASE): P.QUEUED,
    (P.ALLOWED, E.SEND_START): P.SENDING,
    (P.SENDING, E.SEND_ACCEPTED): P.SENT,
    (P.SENDING, E.SEND_DONE): P.COMPLETED,
    (P.SENT, E.SEND_DONE): P.COMPLETED,
    (P.SENDING, E.PRINTER_UNAVAILABLE): P.QUEUED,
    (P.ALLOWED, E.PRINTER_ERROR): P.ABORTED,
    (P.SENDING, E.PRINTER_ERROR): P.ABORTED,
    (P.SENT, E.PRINTER_ERROR): P.ABORTED,
    (P.SENDING, E.SEND_UNCERTAIN): P.STOPPED,
    (P.SUSPENDED, E.RESUME): P.QUEUED,
}
for _phase in CANCELABLE:
    _TABLE[(_phase, E.CANCEL)] = P.CANCELED
for _phase in EXPIRABLE:
    _TABLE[(_phase, E.EXPIRE)] = P.EXPIRED
for _phase in {P.QUEUED} | BEFORE_SENDING:
    _TABLE[(_phase, E.SUSPEND)] = P.SUSPENDED
    _TABLE[(_phase, E.JOB_ERROR)] = P.QUEUED
    _TABLE[(_phase, E.GIVE_UP)] = P.ABORTED
# A restart leaves resting jobs as they are and takes back the engine's unfinished work: a
# job the printer holds whole is done; one cut off mid-send is sent again only over IPP,
# where a cut-off request is no job at the printer.
for _phase in RESTING:
    _TABLE[(_phase, E.CRASH_RESTART)] = _phase
    _TABLE[(_phase, E.CRASH_RESTART_RAW)] = _phase
for _phase in BEFORE_SENDING:
    _TABLE[(_phase, E.CRASH_RESTART)] = P.QUEUED
    _TABLE[(_phase, E.CRASH_RESTART_RAW)] = P.QUEUED
_TABLE[(P.SENDING, E.CRASH_RESTART)] = P.QUEUED
_TABLE[(P.SENDING, E.CRASH_RESTART_RAW)] = P.STOPPED
_TABLE[(P.SENT, E.CRASH_RESTART)] = P.COMPLETED
_TABLE[(P.SENT, E.CRASH_RESTART_RAW)] = P.COMPLETED
del _phase

TRANSITIONS: dict[tuple[Phase, Event], Phase] = dict(_TABLE)


def submitted(*, document: bool, hold: bool) -> Phase:
    """The phase of a job just accepted: with its document or (Create-Job) without, to hold
    or to print."""
    if not document:
        return P.INCOMING
    return P.HELD if hold else P.QUEUED


def step(phase: Phase, event: Event) -> Phase | None:
    """The phase ``event`` moves a job in ``phase`` to; None if the machine refuses it."""
    return TRANSITIONS.get((phase, event))


def is_final(phase: Phase) -> bool:
    return phase in FINAL


def chargeable(phase: Phase) -> bool:
    """Only a job that printed is charged."""
    return phase is P.COMPLETED


def restart_event(*, resendable: bool) -> Event:
    """The restart event for a job whose printer can (IPP) or cannot (raw socket, file)
    take a resend without risking a second copy."""
    return E.CRASH_RESTART if resendable else E.CRASH_RESTART_RAW


def on_error(phase: Phase, failures: int, max_failures: int) -> Event:
    """What an unexpected failure in a job (its ``failures``-th) means in ``phase``.

    Mid-send nobody knows what the printer got, so the job stops for a person; once the
    printer holds it whole it printed; before that it is retried until it failed
    ``max_failures`` times.
    """
    if phase is P.SENDING:
        return E.SEND_UNCERTAIN
    if phase is P.SENT:
        return E.SEND_DONE
    return E.GIVE_UP if failures >= max_failures else E.JOB_ERROR


def retry_delay(attempts: int, initial: float, maximum: float) -> float:
    """Seconds to wait before the ``attempts``-th retry: doubling from ``initial`` up to
    ``maximum``."""
    return float(min(maximum, initial * 2 ** min(max(attempts, 1) - 1, 32)))
