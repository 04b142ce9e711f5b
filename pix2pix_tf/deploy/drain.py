"""Stopping a threaded HTTP server without dropping a request: on SIGINT or SIGTERM it stops
accepting connections, answers every request it had accepted, then returns.

A connection counts from the moment it is accepted until its request is answered; a keep-alive
connection waiting for its next request does not count (it is closed when the process ends). A
request that arrives while the server drains is still answered, with ``Connection: close``.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from absl import logging

# After SIGINT or SIGTERM, the requests already accepted get this long to finish; a second signal
# stops waiting at once.
DRAIN_TIMEOUT_S = 300


class InFlight:
    """The connections accepted and not yet answered: what a drain waits for."""

    def __init__(self):
        self._connections: set[socket.socket] = set()
        self._changed = threading.Condition()
        self._abandoned = False

    def begin(self, connection: socket.socket) -> None:
        with self._changed:
            self._connections.add(connection)

    def end(self, connection: socket.socket) -> None:
        with self._changed:
            self._connections.discard(connection)
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._connections)

    def abandon(self) -> None:
        """Makes ``wait`` return now."""
        with self._changed:
            self._abandoned = True
            self._changed.notify_all()

    def wait(self, timeout: float) -> int:
        """Waits until every connection is answered, ``timeout`` seconds pass or ``abandon`` is
        called; returns how many are left."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._connections and not self._abandoned and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return len(self._connections)


class DrainingServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that knows which connections it owes an answer (``in_flight``)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[DrainingHandler]):
        self.in_flight = InFlight()
        self.draining = False
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        self.in_flight.begin(request)  # accepted: owed an answer from now on
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        super().shutdown_request(request)
        self.in_flight.end(request)

    def accept_backlog(self) -> None:
        """Takes in the connections the kernel accepted but ``serve_forever`` has not, then closes
        the listening socket: from here on, new connections are refused."""
        self.socket.setblocking(False)
        while True:
            try:
                request, client_address = self.socket.accept()
            except OSError:  # BlockingIOError: none left
                break
            request.setblocking(True)
            self.process_request(request, client_address)
        self.socket.close()


class DrainingHandler(BaseHTTPRequestHandler):
    """Marks a keep-alive connection busy from its request line until its answer is sent."""

    server: DrainingServer

    def parse_request(self) -> bool:
        self.server.in_flight.begin(self.connection)
        return super().parse_request()

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if not self.close_connection and not self.server.draining:
            self.server.in_flight.end(self.connection)  # idle until its next request line

    def end_headers(self) -> None:
        if self.server.draining:
            self.close_connection = True
            self.send_header("Connection", "close")
        super().end_headers()


def serve_until_stopped(server: DrainingServer) -> str:
    """Serves until SIGINT or SIGTERM, then drains: new connections are refused, every request
    already accepted is answered (up to ``DRAIN_TIMEOUT_S``; a second signal stops waiting).
    Returns the signal's name."""
    stopped = []

    def stop(number, frame) -> None:
        del frame
        if stopped:
            logging.warning("%s again: not waiting for the %d requests still running", signal.Signals(number).name,
                            len(server.in_flight))
            server.in_flight.abandon()
            return
        stopped.append(signal.Signals(number).name)
        server.draining = True
        threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown() waits for serve_forever

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
        server.accept_backlog()
        if len(server.in_flight):
            logging.info("%s: answering the %d requests accepted before it", stopped[0] if stopped else "shutdown",
                         len(server.in_flight))
        left = server.in_flight.wait(DRAIN_TIMEOUT_S)
        if left:
            logging.warning("stopping with %d requests unanswered", left)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        server.server_close()
    return stopped[0] if stopped else "shutdown"
