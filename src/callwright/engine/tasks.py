"""The call's tasks, kept so that a finished call is freed by reference counting.

A call leaves no reference cycle behind, so nothing it leaves waits for the
collector, whose full pass walks every live call and pauses all their audio:

- ``CallTasks`` is the session's TaskGroup while the call runs. It holds no reference
  to the session, so the parts that spawn tasks (the speaking, the hearing, ...) do not
  point back at it. When the call ends it cancels the tasks left and lets the group
  close without an exception: raising one through a TaskGroup builds an
  ``ExceptionGroup`` whose traceback holds the frames that hold it.
- A cancelled task keeps its ``CancelledError``, whose traceback holds the task's
  frames, whose locals hold the objects (the speaker) that hold the task: a cycle. Once
  a task is done, ``CallTasks`` takes that error out of it (``Future.exception`` hands
  it over) and clears its traceback.
- ``weakly`` turns a method of the session into a callable that does not keep it
  alive, for the parts the session owns that call it back.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["CallTasks", "drop_cancellation", "weakly"]


def drop_cancellation(task: asyncio.Task[Any]) -> None:
    """Free what a cancelled ``task`` keeps of its last frames (its ``CancelledError``
    and that error's traceback). Meant as a done callback."""
    if not task.cancelled():
        return
    try:
        task.exception()  # raises the task's own CancelledError, which it then lets go
    except asyncio.CancelledError as error:
        error.__traceback__ = None
        error.__context__ = None


class CallTasks:
    """The call's TaskGroup while ``hold`` runs it; ``spawn`` starts a task in it."""

    __slots__ = ("_group", "_tasks")

    def __init__(self) -> None:
        self._group: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        """True while the call's tasks may be started."""
        return self._group is not None

    async def hold(self, start: Callable[[], None], ended: Callable[[], Awaitable[None]]) -> None:
        """Run the call's tasks until ``ended()`` returns: ``start`` spawns the first
        ones; then the tasks left are cancelled and the group closes without raising
        (an exception group would hold the call's frames in a reference cycle). A task
        that fails ends it too, with its error, as a TaskGroup does."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                start()
                await ended()
                self.close()
        finally:
            self.close()  # after a task's error too: nothing may be started any more

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Start ``work`` as one of the call's tasks."""
        assert self._group is not None
        task = self._group.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def close(self) -> None:
        """The call is over: nothing may be started any more, and the tasks still
        running are cancelled (the group then closes once they have wound down)."""
        self._group = None
        for task in self._tasks:
            task.cancel()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        drop_cancellation(task)


P = ParamSpec("P")
R = TypeVar("R")


def weakly(method: Callable[P, R]) -> Callable[P, R]:
    """``method`` (bound), called through a weak reference to its object: the callable
    does not keep the object alive. The object must outlive the callable's use (the
    session outlives the parts it owns)."""
    ref = weakref.WeakMethod(method)
    name = method.__qualname__

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = ref()
        if bound is None:
            raise ReferenceError(f"{name}: its object is gone")
        return bound(*args, **kwargs)

    return call
