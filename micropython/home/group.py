# Drivers of one type that share one task: a task for each of sixteen peripherals would take
# more heap than their drivers. The type keeps its running drivers in `group` (a list in its
# class); the task runs each one's step(), then waits in the type's wake(group) (for a pin
# interrupt, for the next reading due), and again.
import asyncio
from micropython import const

from home.sensors import Driver

_RESTART_MS = const(1000)
_FIRST_MS = const(200)  # a new configuration's answer and states go out before the first round


class Grouped(Driver):
    group = None  # each type's own list
    group_task = None
    group_ran = False  # whether group_task has begun its first round

    def start(self):
        group = self.group
        if self not in group:
            group.append(self)
        cls = type(self)
        if cls.group_task:
            if not cls.group_ran:  # made for a driver started just now: its round takes this one
                return
            cls.group_task.cancel()  # started again, so that the new driver's step() comes now
        cls.group_ran = False
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
    await asyncio.sleep_ms(_FIRST_MS)
    cls.group_ran = True
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
