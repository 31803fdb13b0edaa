"""The Rasa server's listening socket, bound before Rasa runs and kept across its restarts.

Rasa binds its port only once its model is loaded: for the 10-20 s of imports and loading,
and for every restart, a request was refused. The runner binds each Rasa server's port once,
before starting anything, and hands the socket to every Rasa process it starts (an inherited
file descriptor, RASA_LISTEN_FD): the port never closes while the runner lives, and the
kernel holds new connections until a Rasa process, with its model loaded, accepts them.
Started on its own, `stack.rasa_server` binds the port itself as its first step.
"""

from __future__ import annotations

import socket

BACKLOG = 512  # connections the kernel holds while the model loads (Rasa's default is 100)


def listen_early(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A listening TCP socket on ``host:port``, inheritable by the processes the caller starts."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def inherited(fd: int) -> socket.socket:
    """The listening socket the runner passed down; ValueError if ``fd`` is not one."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ValueError(f"RASA_LISTEN_FD={fd} is not an open socket: {exc.strerror}") from exc
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_ACCEPTCONN
    ):
        sock.detach()
        raise ValueError(f"RASA_LISTEN_FD={fd} is not a listening TCP socket")
    return sock
