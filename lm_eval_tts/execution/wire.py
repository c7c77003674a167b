"""Message formats between the evaluator, the driver, the fork server and program processes.

* Length-prefixed JSON frames on stream sockets (evaluator <-> driver, driver <-> program process): jobs and
  results can be megabytes.
* One JSON message per datagram on SOCK_SEQPACKET sockets (driver <-> fork server), with file descriptors attached
  (SCM_RIGHTS): the driver hands the fork server the descriptors a program process gets, never their contents.

Stdlib only: also loaded inside the sandbox.
"""

import json
import os
import socket
import struct

HEADER = struct.Struct(">I")
_MAX_MESSAGE = 1 << 16  # driver <-> fork server requests and replies are a few hundred bytes


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


def send_message(sock, obj, fds=()):
    """One message (and the given descriptors) on a SOCK_SEQPACKET socket."""
    data = json.dumps(obj, separators=(",", ":")).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def recv_message(sock, max_fds=0):
    """(message, descriptors) from a SOCK_SEQPACKET socket; (None, []) on EOF. Descriptors beyond ``max_fds`` and
    those of a malformed message are closed."""
    data, fds, flags, _ = socket.recv_fds(sock, _MAX_MESSAGE, max(max_fds, 1))
    if not data:
        _close_all(fds)
        return None, []
    if flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC) or len(fds) > max_fds:
        _close_all(fds)
        raise ValueError("truncated message or too many descriptors")
    return json.loads(data), fds


def _close_all(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
