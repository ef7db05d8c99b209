# The inbox: messages waiting for the inbox task. The MQTT reader reads each payload straight
# into one ring buffer allocated at import (before the heap fragments): no allocation, no copy.
from micropython import const

SIZE = const(2048)  # the largest message the node takes: a 16-sensor config/set is about 1.4 KB
SLOTS = const(12)
_REPLY_SLOTS = const(96)
_buf = bytearray(SIZE)


class Inbox:
    def __init__(self):
        self.mv = memoryview(_buf)
        self.entries = []  # (topic, start, length), oldest first
        self.tail = 0  # where the next message goes

    def __len__(self):
        return len(self.entries)

    def reserve(self, n):
        """Where a message of n bytes can go, or None when there is no room for it now."""
        entries = self.entries
        if not entries:
            return 0 if n <= SIZE else None
        if len(entries) >= SLOTS:
            return None
        head = entries[0][1]
        tail = self.tail
        if entries[-1][1] < head:  # wrapped: the free space is tail..head
            return tail if tail + n <= head else None
        if tail + n <= SIZE:
            return tail
        return 0 if n <= head else None

    def commit(self, topic, start, n):
        self.entries.append((topic, start, n))
        self.tail = start + n

    def first(self):
        """(topic, payload memoryview) of the oldest message; it stays until pop()."""
        topic, start, n = self.entries[0]
        return topic, self.mv[start : start + n]

    def pop(self):
        self.entries.pop(0)
        if not self.entries:
            self.tail = 0


class Replies:
    """The n and error of commands the reader refused (busy), oldest first, in a preallocated
    ring: queuing one allocates nothing but its n."""

    def __init__(self):
        self.n = [0] * _REPLY_SLOTS
        self.error = [None] * _REPLY_SLOTS
        self.start = self.count = 0

    def put(self, n, error):
        """False when the ring is full."""
        if self.count >= _REPLY_SLOTS:
            return False
        i = (self.start + self.count) % _REPLY_SLOTS
        self.n[i] = n
        self.error[i] = error
        self.count += 1
        return True

    def first(self):
        """(n, error) of the oldest; it stays until pop()."""
        return self.n[self.start], self.error[self.start]

    def pop(self):
        self.n[self.start] = 0
        self.start = (self.start + 1) % _REPLY_SLOTS
        self.count -= 1


replies = Replies()  # at import, with the buffers above
