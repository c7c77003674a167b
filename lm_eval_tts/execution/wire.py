"""Length-prefixed JSON frames: the message format between the evaluator, the worker and program processes.

Stdlib only: also loaded inside the sandbox.
"""

import json
import os
import struct

HEADER = struct.Struct(">I")


def write_frame(fd, obj):
    """One frame to a file descriptor (the fork server's reply pipe)."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    data = memoryview(HEADER.pack(len(body)) + body)
    while data:
        data = data[os.write(fd, data):]


def _read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd):
    """Blocking read of one frame from a trusted peer (the evaluator); None on EOF."""
    head = _read_exact(fd, HEADER.size)
    if head is None:
        return None
    body = _read_exact(fd, HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


def sock_send(sock, obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    sock.sendall(HEADER.pack(len(data)) + data)


def sock_recv(sock, max_bytes):
    """One frame from a socket (honours the socket timeout); None on EOF; OverflowError if too big."""
    head = _sock_exact(sock, HEADER.size)
    if head is None:
        return None
    size = HEADER.unpack(head)[0]
    if size > max_bytes:
        raise OverflowError(size)
    return _sock_exact(sock, size)


def _sock_exact(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
