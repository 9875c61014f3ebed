"""Questions nobody answered in time follow their printer's timeout policy.

At HQ every held job's question is timed out here, except at a site HQ cannot reach; a Site
Server's local app times out its own while the site is offline (online, HQ does).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from printwarden.domain.questions import Outcome
from printwarden.service.state import AppState
from printwarden.service.supervised import supervised
from printwarden.store import user_events
from printwarden.usecases import questions, release
from printwarden.usecases.errors import REFUSALS

log = logging.getLogger("printwarden.questions")


async def start_user_clients(state: AppState) -> QuestionTimer:
    """Deliver committed transactions' events to the User Clients' streams, beat their
    heartbeat, and time out questions (the App Server's start-up, and a Site Server's)."""
    state.events.bind(asyncio.get_running_loop())
    state.database.on_events = state.events.publish
    state.database.notices.on(user_events.KIND, lambda payload: _heard(state, payload))
    timer = QuestionTimer(state)
    await timer.start()
    return timer


def _heard(state: AppState, payload: str) -> None:
    """Events another App Server process committed (nothing to do when they may have been
    missed: each client's next ``hello`` carries its questions and balance)."""
    if payload:
        state.events.publish(user_events.decode(payload))


class QuestionTimer:
    """Supervised loops: one applies overdue questions' timeout policies, one beats the
    streams' heartbeat."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.counts = {"timed_out": 0, "failed": 0, "loop_restarts": 0}
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        beat = self.state.settings.client.heartbeat_seconds
        self.tasks = [
            asyncio.create_task(supervised(self._loop, "question timer", self.counts, log)),
            asyncio.create_task(
                supervised(lambda: self.state.events.heartbeat(beat), "heartbeat", self.counts, log)
            ),
        ]

    def stats(self) -> dict[str, int]:
        """Counters for ``/metrics``: timeouts applied and failed, loops restarted, the
        streams connected now and the events published since start."""
        hub = self.state.events
        return {**self.counts, "streams": hub.listeners, "events_published": hub.published}

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _loop(self) -> None:
        interval = self.state.settings.client.question_sweep_seconds
        while True:
            await asyncio.sleep(interval)
            if not self.state.leadership.leads():
                continue  # another App Server process times questions out
            if self.state.authority.at_hq or self.state.authority.offline():
                await self.sweep()

    async def sweep(self) -> int:
        """Time out every overdue question once; how many were."""
        overdue = await release.in_thread(self.state, _overdue)
        done = 0
        for job_ref in overdue:
            try:  # one job's failure is that job's, never the loop's
                outcome = await release.in_thread(self.state, _time_out, job_ref)
            except REFUSALS as exc:
                log.info("question of held job %s: timeout not applied (%s)", job_ref, exc)
                continue
            except Exception:
                self.counts["failed"] += 1
                log.exception("question of held job %s: timeout failed", job_ref)
                continue
            if outcome is not None:
                done += 1
                log.info("question of held job %s timed out: %s", job_ref, outcome.value)
        self.counts["timed_out"] += done
        return done


def _overdue(state: AppState) -> list[str]:
    return questions.overdue(state, datetime.now(UTC))


def _time_out(state: AppState, job_ref: str) -> Outcome | None:
    return questions.time_out(state, job_ref)
