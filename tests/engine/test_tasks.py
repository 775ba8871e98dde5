"""``engine.tasks``: what keeps a finished call free of reference cycles."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from callwright.engine.tasks import CallTasks, drop_cancellation, weakly


class _Owner:
    """Holds its task, as the speaker holds its reply: the task's frames hold it back."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None

    async def work(self) -> None:
        # Cancelled inside a TaskGroup: Python 3.11's __aexit__ frame keeps the error.
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(60))
            await asyncio.sleep(60)


@pytest.mark.usefixtures("collector_off")
async def test_a_cancelled_task_gives_up_its_frames() -> None:
    owner = _Owner()
    task = owner.task = asyncio.get_running_loop().create_task(owner.work())
    task.add_done_callback(drop_cancellation)
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait({task})
    await asyncio.sleep(0)  # the done callbacks
    assert task.cancelled()
    freed = weakref.ref(owner)
    del owner, task

    assert freed() is None
    assert gc.collect() == 0


async def test_closing_cancels_the_tasks_left_and_the_group_ends_without_an_error() -> None:
    tasks = CallTasks()
    spawned: list[asyncio.Task[None]] = []

    def start() -> None:
        spawned.extend((tasks.spawn(asyncio.sleep(60)), tasks.spawn(asyncio.sleep(0))))

    async def ended() -> None:
        await asyncio.wait({spawned[1]})

    await tasks.hold(start, ended)
    running, finished = spawned
    assert running.cancelled()
    assert not finished.cancelled()
    assert not tasks.running


async def test_weakly_does_not_keep_its_object() -> None:
    class Session:
        def answer(self, number: int) -> int:
            return number + 1

    session = Session()
    call = weakly(session.answer)
    assert call(1) == 2
    del session
    with pytest.raises(ReferenceError):
        call(1)
