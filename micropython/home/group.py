# Drivers of one type that share one task: a task for each of sixteen peripherals would take
# more heap than their drivers. The type keeps its running drivers in `group` (a list in its
# class); the task runs each one's step(), then waits in the type's wake(group) (for a pin
# interrupt, for the next reading due), and again.
import asyncio
from micropython import const

from home.sensors import Driver

_RESTART_MS = const(1000)


class Grouped(Driver):
    group = None  # each type's own list
    group_task = None

    def start(self):
        group = self.group
        if self not in group:
            group.append(self)
        cls = type(self)
        if cls.group_task:  # started again, so that the new driver's step() comes at once
            cls.group_task.cancel()
        cls.group_task = asyncio.create_task(_serve(cls, group))

    def stop(self):
        group = self.group
        if self in group:
            group.remove(self)
            cls = type(self)
            if not group and cls.group_task:
                cls.group_task.cancel()
                cls.group_task = None


async def _serve(cls, group):
    """The task of a type's drivers. Out of memory (in a driver's step or in the wait): logged
    once per driver, and everything is tried again a second later."""
    while True:
        where = cls.kind
        try:
            for driver in tuple(group):  # a copy: a driver may stop meanwhile
                where = driver.id
                await driver.step()
            where = cls.kind
            await cls.wake(group)
        except MemoryError:
            if group:
                group[0].home.no_memory(where)
            await asyncio.sleep_ms(_RESTART_MS)
