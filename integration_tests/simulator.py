"""The AvidTrak simulator's HTTP face: server, faults, request log, control API, CLI.

What the account answers lives in ``simulator_data``; this module serves it
on 127.0.0.1 over HTTP/1.1 keep-alive (every reply has a Content-Length),
at ``/webservice/api.php`` only: elsewhere a 404 HTML page, so a wrong Base URL shows.
Faults stand in for what a real network and proxy do: HTTP errors, 429s,
HTML error pages, broken bodies, resets and stalls. Tests in this process
queue them with ``add_fault``; other processes (the CLI, Docker and
benchmark runs) use ``/__sim__/faults`` and read ``/__sim__/requests`` and
``/__sim__/stats``. An optional token bucket (``rate_limit``) answers 429 beyond its rate.
"""

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import signal
import socket
import socketserver
import struct
import sys
import threading
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from integration_tests.simulator_data import JSON_TYPE, AvidTrakAccount, DataSpec, php_json, render
from integration_tests.token_bucket import TokenBucket

API_PATH = "/webservice/api.php"
CONTROL_PREFIX = "/__sim__/"
FAULT_KINDS = (
    "http_status",
    "rate_limit",
    "html",
    "truncated_json",
    "non_object_json",
    "data_not_list",
    "reset",
    "timeout",
    "envelope",
)
PROXY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><center>"
    "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
LOGGED_PARAMS = ("method", "format", "use_paging", "startdate", "enddate")
CLIENT_LABEL, CLIENT_PIN = "client-{:04d}", "sim-client-pin-{:04d}"  # --clients N

Reply = namedtuple("Reply", "status content_type body headers", defaults=((),))
RESET = object()  # not a reply: the handler aborts the connection instead


class Fault:
    """A misbehaviour served instead of the normal reply, ``times`` times.

    ``method`` and ``page`` narrow the requests it applies to (a request
    without ``page`` counts as page 1); ``times=None`` fires until cleared.
    """

    def __init__(self, kind, times=1, method=None, page=None, **params):
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        self.kind, self.times, self.method, self.page, self.params = kind, times, method, page, params

    def __repr__(self):
        narrowing = f"times={self.times}, method={self.method!r}, page={self.page}"
        return f"Fault({self.kind!r}, {narrowing}, **{self.params})"

    def matches(self, method, page) -> bool:
        return self.method in (None, method) and self.page in (None, page)


class AvidTrakSimulator:
    """A running simulated account plus its queue of faults and log of API requests."""

    def __init__(
        self,
        pins=("sim-pin-0001",),
        seed=42,
        calls_per_day=20,
        empty_day_ratio=0.1,
        success_code=1,
        auth_failed_code=4,
        latency_s=0.0,
        port=0,
        extra_field_ratio=0.05,
        clients=None,
        rate_limit=None,
        burst=None,
    ):
        """``pins`` all open the main account; ``clients`` (a mapping, or (label, pin) pairs) maps a label to the pin of a
        client account of its own, whose rows differ (its own seed) but whose call ids
        repeat the main account's, as two real accounts' ids may."""
        spec = DataSpec(seed, calls_per_day, empty_day_ratio, extra_field_ratio)
        self.account = AvidTrakAccount(spec, pins, success_code, auth_failed_code)
        self.clients = {
            label: AvidTrakAccount(
                dataclasses.replace(spec, seed=seed + number), (pin,), success_code, auth_failed_code
            )
            for number, (label, pin) in enumerate(dict(clients or {}).items(), start=1)
        }
        self._by_pin = {pin: (label, account) for label, account in self.clients.items() for pin in account.pins}
        self.latency_s, self.port = latency_s, port
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._log: list[dict] = []
        self._stopping = threading.Event()
        self._server = self._thread = None
        # AvidTrak's request limit (requests/s, and the bucket's size): 429s beyond it.
        self._bucket = TokenBucket(rate_limit, burst or max(1.0, rate_limit)) if rate_limit else None
        self._rate_limited = 0
        self._in_flight = self._max_in_flight = 0

    def start(self) -> "AvidTrakSimulator":
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), name="avidtrak-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes stalled handlers and drops idle keep-alive connections."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "AvidTrakSimulator":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PATH

    @property
    def requests(self) -> list[dict]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def stats(self) -> dict:
        """API requests received and how many the token bucket (``rate_limit``) refused."""
        with self._lock:
            return {"requests": len(self._log), "rate_limited": self._rate_limited}

    @property
    def max_in_flight(self) -> int:
        """The most API requests it was answering at once."""
        with self._lock:
            return self._max_in_flight

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def rows(self, method: str, start_day: dt.date, end_day: dt.date, client=None) -> list[dict[str, str]]:
        """The rows a whole-day window start_day..end_day (inclusive) returns, in order:
        the main account's, or with ``client`` (a label of ``clients``) that client's."""
        end = dt.datetime.combine(end_day, dt.time(23, 59, 59))
        account = self.account if client is None else self.clients[client]
        return account.rows(method, dt.datetime.combine(start_day, dt.time()), end)

    def _account_of(self, pin: str) -> tuple[str | None, AvidTrakAccount]:
        """(label, account) a pin opens; ("main", ...) for the main pins; (None, main) for
        an unknown pin, which the main account then rejects."""
        if pin in self._by_pin:
            return self._by_pin[pin]
        return ("main" if pin in self.account.pins else None), self.account

    def _take_fault(self, method, page) -> Fault | None:
        with self._lock:
            fault = next((f for f in self._faults if f.matches(method, page)), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            return fault

    def _handle_api(self, path: str, query: str):
        """Reply (or RESET) to one API request, logged on arrival, pin masked."""
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            return self._answer_api(path, query)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer_api(self, path: str, query: str):
        params = dict(parse_qsl(query, keep_blank_values=True))
        pin = params.get("pincode", "")
        label, _ = self._account_of(pin)
        entry = {"path": path, **{key: params.get(key) for key in LOGGED_PARAMS}}
        entry.update(
            page=_int_or_raw(params.get("page")),
            perpage=_int_or_raw(params.get("perpage")),
            pincode="***" if pin else "",
            pin_valid=label is not None,
            account=label,
            fault=None,
            code=None,
        )
        with self._lock:
            self._log.append(entry)
        retry_after = self._bucket.take() if self._bucket is not None else None
        if retry_after is not None:  # refused at once, as a limiter in front of the API does
            with self._lock:
                self._rate_limited += 1
            entry["fault"] = "token_bucket"
            return Reply(429, "text/plain", b"Too Many Requests", (("Retry-After", str(retry_after)),))
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        fault = self._take_fault(params.get("method"), entry["page"] or 1)
        if fault is None:
            entry["code"], reply = self._envelope_reply(params)
        else:
            entry["fault"] = fault.kind
            entry["code"], reply = self._fault_reply(fault, params)
        return reply

    def _envelope_reply(self, params: dict) -> tuple[int, Reply]:
        code, status, data = self._account_of(params.get("pincode", ""))[1].answer(params)
        return code, Reply(200, *render(code, status, data, params.get("format")))

    def _fault_reply(self, fault: Fault, params: dict):
        """(code the client sees or None, Reply or RESET) for one fault."""
        kind, p = fault.kind, fault.params
        if kind == "timeout":
            if self._stopping.wait(float(p.get("seconds", 30))):
                return None, RESET
            return self._envelope_reply(params)
        if kind == "truncated_json":
            body = self._envelope_reply(params)[1].body
            return None, Reply(200, JSON_TYPE, body[: len(body) // 2])
        if kind == "envelope":
            code, status = int(p.get("code", 0)), str(p.get("status", "Unknown Error"))
            return code, Reply(200, *render(code, status, None, params.get("format")))
        if kind == "data_not_list":
            success = self.account.success_code
            body = php_json({"code": success, "status": "Success", "data": "oops"})
            return success, Reply(200, JSON_TYPE, body.encode())
        replies = {
            "http_status": lambda: Reply(
                int(p.get("status", 500)), "text/plain", str(p.get("body", "Server Error")).encode()
            ),
            "rate_limit": lambda: Reply(
                429, "text/plain", b"Too Many Requests", (("Retry-After", str(p.get("retry_after", "1"))),)
            ),
            "html": lambda: Reply(int(p.get("status", 200)), "text/html", PROXY_PAGE.encode()),
            "non_object_json": lambda: Reply(200, JSON_TYPE, b"[1,2]"),
            "reset": lambda: RESET,
        }
        return None, replies[kind]()

    def _handle_control(self, verb: str, path: str, body: bytes) -> Reply:
        """``/__sim__/faults`` (POST a list of fault dicts, DELETE), ``/__sim__/requests``, ``/__sim__/stats``."""
        route = (verb, path[len(CONTROL_PREFIX) :].rstrip("/"))
        if route == ("POST", "faults"):
            try:
                specs = json.loads(body or b"[]")
                faults = [Fault(**spec) for spec in (specs if isinstance(specs, list) else [specs])]
            except (ValueError, TypeError) as error:
                return _json_reply(400, {"error": str(error)})
            for fault in faults:
                self.add_fault(fault)
            return _json_reply(200, {"added": len(faults)})
        if route == ("GET", "requests"):
            return _json_reply(200, self.requests)
        if route == ("GET", "stats"):
            return _json_reply(200, self.stats)
        clear = {("DELETE", "faults"): self.clear_faults, ("DELETE", "requests"): self.clear_requests}
        if route not in clear:
            return _json_reply(404, {"error": f"no control route {verb} {path}"})
        clear[route]()
        return _json_reply(200, {})


def _json_reply(status: int, payload) -> Reply:
    return Reply(status, JSON_TYPE, json.dumps(payload).encode())


def _int_or_raw(value):
    """Paging parameters logged as ints when they are ints, else as sent."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stalled "timeout" handler must not hold up stop()
    request_queue_size = 128

    def __init__(self, address, sim: AvidTrakSimulator):
        self.sim = sim
        self._connections, self._connections_lock = set(), threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self):
        """Skip HTTPServer's reverse DNS lookup of the bound address."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, connection, alive: bool) -> None:
        with self._connections_lock:
            (self._connections.add if alive else self._connections.discard)(connection)

    def close_connections(self) -> None:
        """Unblock handlers waiting on idle keep-alive connections."""
        with self._connections_lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address):
        """Clients hanging up mid-reply are normal in fault tests: stay quiet."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version, sys_version = "Apache", ""
    disable_nagle_algorithm = True  # headers and body are two writes

    def setup(self):
        super().setup()
        self.server.track(self.connection, True)

    def finish(self):
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format, *args):
        """Silent: a line per request would swamp test and benchmark output."""

    def _route(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        sim = self.server.sim
        if path.startswith(CONTROL_PREFIX):
            reply = sim._handle_control(self.command, path, body)
        elif path == API_PATH and self.command == "GET":
            reply = sim._handle_api(path, query)
        else:
            reply = Reply(404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>")
        self._reset() if reply is RESET else self._send(reply)

    do_GET = do_POST = do_DELETE = _route

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _reset(self) -> None:
        """Abort with a TCP RST: SO_LINGER 0, then close before sending anything."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket only really closes once its files are closed
        self.connection.close()


def _label_and_pin(value: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    label, separator, pin = value.partition("=")
    if not (label and separator and pin):
        parser.error(f"--client takes LABEL=PIN, not {value!r}")
    return label, pin


def numbered_clients(count: int) -> dict[str, str]:
    """``--clients N``: client accounts labelled client-0001.., opened by pins sim-client-pin-0001.."""
    return {CLIENT_LABEL.format(number): CLIENT_PIN.format(number) for number in range(1, count + 1)}


def from_args(argv=None) -> AvidTrakSimulator:
    """The simulator the command line describes (not started)."""
    parser = argparse.ArgumentParser(description="Serve a simulated AvidTrak API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--calls-per-day", type=int, default=20)
    parser.add_argument("--empty-day-ratio", type=float, default=0.1)
    parser.add_argument("--extra-field-ratio", type=float, default=0.05)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--pin", action="append", help="a valid pin code of the main account; repeatable")
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="LABEL=PIN",
        help="a client account with data of its own, opened by PIN; repeatable",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=0,
        metavar="N",
        help=f"N more client accounts, labelled {CLIENT_LABEL.format(1)}.. with pins {CLIENT_PIN.format(1)}..",
    )
    parser.add_argument("--success-code", type=int, choices=(1, 200), default=1)
    parser.add_argument("--auth-failed-code", type=int, choices=(4, 401), default=4)
    parser.add_argument("--rate-limit", type=float, help="requests/s a token bucket allows; beyond it HTTP 429")
    parser.add_argument("--burst", type=float, help="the token bucket's size (default: the rate, at least 1)")
    args = parser.parse_args(argv)
    return AvidTrakSimulator(
        pins=tuple(args.pin or ("sim-pin-0001",)),
        seed=args.seed,
        calls_per_day=args.calls_per_day,
        empty_day_ratio=args.empty_day_ratio,
        success_code=args.success_code,
        auth_failed_code=args.auth_failed_code,
        latency_s=args.latency_ms / 1000,
        port=args.port,
        extra_field_ratio=args.extra_field_ratio,
        clients={**numbered_clients(args.clients), **dict(_label_and_pin(value, parser) for value in args.client)},
        rate_limit=args.rate_limit,
        burst=args.burst,
    )


def main(argv=None) -> int:
    """Serve until SIGTERM/SIGINT; the one stdout line tells a parent the port."""
    sim = from_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with sim:
        print(f"AVIDTRAK_SIMULATOR_URL={sim.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
