"""A loopback proxy in front of the local broker, for the security and broker-failure tests.

The local broker (Tansu 0.6.0) cannot be given SASL users while it keeps its data in memory (its
`--authentication` switch refuses the very request that would create one) and its `--cert` switch
does not produce a TLS listener (measured: tests/test_security.py). So the tests put this proxy
between the clients and the broker and point the broker's advertised listener at it, which makes
every connection, including the ones a client opens after reading the cluster metadata, pass here.
It can:

- terminate TLS (Python's ssl module, a certificate made by the test's own throw-away CA);
- check SASL credentials like a Kafka broker does: it answers SaslHandshake and SaslAuthenticate
  itself (PLAIN, and SCRAM-SHA-256/512 by RFC 5802), forwards ApiVersions, refuses any other request
  before authentication, and after success relays bytes untouched;
- add a fixed latency to every byte in both directions (the order of bytes is kept, the throughput
  is not capped: each chunk is held until its arrival time plus the delay);
- go down (close the listening socket and cut every open connection) and come back on the same port.

Only what a test needs; a proxy in production would be Kafka's own listeners.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

API_SASL_HANDSHAKE = 17
API_VERSIONS = 18
API_SASL_AUTHENTICATE = 36
ERR_UNSUPPORTED_SASL_MECHANISM = 33
ERR_ILLEGAL_SASL_STATE = 34
ERR_SASL_AUTHENTICATION_FAILED = 58
# Kafka's connection.failed.authentication.delay.ms: a refused client gets the error response, and the
# connection closes only after this, so the client reads the reason instead of a bare disconnect.
FAILED_AUTH_CLOSE_DELAY_S = 0.1
_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


@dataclass
class ProxyStats:
    connections: int = 0
    auth_ok: int = 0
    auth_failed: int = 0
    refused_unauthenticated: int = 0
    users_ok: set[str] = field(default_factory=set)


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _put_uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _skip_tags(data: bytes, pos: int) -> int:
    count, pos = _uvarint(data, pos)
    for _ in range(count):
        _, pos = _uvarint(data, pos)
        size, pos = _uvarint(data, pos)
        pos += size
    return pos


class _Scram:
    """Server side of one SCRAM exchange (RFC 5802), answering like Kafka's ScramSaslServer."""

    def __init__(self, mechanism: str, users: Mapping[str, str]) -> None:
        self.hash = _HASHES[mechanism]
        self.users = users
        self.iterations = 4096
        self.user: str | None = None
        self.client_first_bare = self.server_first = ""
        self.nonce = ""
        self.salted = b""

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self.hash).digest()

    def first(self, message: str) -> bytes:
        parts = message.split(",", 2)  # gs2 header "n,," or "n,a=authzid," then the bare message
        self.client_first_bare = parts[2]
        attrs = dict(a.split("=", 1) for a in self.client_first_bare.split(","))
        self.user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
        salt = os.urandom(16)
        # An unknown user goes through the same exchange with a random password and fails at the end,
        # so the answer does not say which user names exist (Kafka does the same).
        password = self.users.get(self.user, base64.b64encode(os.urandom(18)).decode())
        self.salted = hashlib.pbkdf2_hmac(self.hash, password.encode(), salt, self.iterations)
        self.nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
        self.server_first = f"r={self.nonce},s={base64.b64encode(salt).decode()},i={self.iterations}"
        return self.server_first.encode()

    def final(self, message: str) -> bytes | None:
        without_proof, _, proof_b64 = message.rpartition(",p=")
        attrs = dict(a.split("=", 1) for a in without_proof.split(","))
        if attrs.get("r") != self.nonce or self.user not in self.users:
            return None
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        stored_key = hashlib.new(self.hash, self._hmac(self.salted, b"Client Key")).digest()
        signature = self._hmac(stored_key, auth_message)
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof_b64), signature, strict=False))
        if not hmac.compare_digest(hashlib.new(self.hash, client_key).digest(), stored_key):
            return None
        server_key = self._hmac(self.salted, b"Server Key")
        return b"v=" + base64.b64encode(self._hmac(server_key, auth_message))


class BrokerProxy:
    """A proxy on 127.0.0.1 in front of `upstream` (host, port); runs its own event loop thread."""

    def __init__(self, upstream: tuple[str, int], *, port: int | None = None, tls: ssl.SSLContext | None = None,
                 users: Mapping[str, str] | None = None,
                 mechanisms: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")) -> None:
        self.upstream = upstream
        self.port = port or _free_port()
        self.tls = tls
        self.users = dict(users) if users is not None else None
        self.mechanisms = mechanisms
        self.delay_s = 0.0
        self.stats = ProxyStats()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="broker-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- control, from the test's thread -------------------------------------------------------
    def start(self) -> BrokerProxy:
        self._thread.start()
        self.come_up()
        return self

    def come_up(self) -> None:
        self._call(self._listen())

    def go_down(self) -> None:
        """Stop listening and cut every open connection: clients see the broker vanish."""
        self._call(self._shutdown())

    def set_delay(self, seconds: float) -> None:
        self.delay_s = seconds

    def stop(self) -> None:
        self.go_down()
        self._call(self._cancel_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> BrokerProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    # -- inside the loop -------------------------------------------------------------------------
    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls,
                                                      reuse_address=True)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _cancel_tasks(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        self._writers.add(c_writer)
        u_writer = None
        try:
            u_reader, u_writer = await asyncio.open_connection(*self.upstream)
            self._writers.add(u_writer)
            if self.users is not None and not await self._authenticate(c_reader, c_writer, u_reader, u_writer):
                # A graceful close: abort() below would discard a TLS-buffered error response.
                await asyncio.sleep(FAILED_AUTH_CLOSE_DELAY_S)
                c_writer.close()
                await asyncio.wait_for(c_writer.wait_closed(), 2)
                return
            await asyncio.gather(self._pipe(c_reader, u_writer), self._pipe(u_reader, c_writer))
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            for w in (c_writer, u_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay bytes, each chunk held until it arrived `delay_s` ago; order kept, throughput not capped."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay_s, data))
                if sender.done():
                    break
        finally:
            queue.put_nowait((0.0, b""))
            try:
                await sender
            finally:
                writer.transport.abort()

    async def _authenticate(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter,
                            u_reader: asyncio.StreamReader, u_writer: asyncio.StreamWriter) -> bool:
        """Answer the SASL exchange like a Kafka broker; True once the client proved its password."""
        assert self.users is not None
        mechanism: str | None = None
        scram: _Scram | None = None
        while True:
            size = struct.unpack(">i", await c_reader.readexactly(4))[0]
            body = await c_reader.readexactly(size)
            api_key, version, correlation = struct.unpack(">hhi", body[:8])
            client_id_len = struct.unpack(">h", body[8:10])[0]
            pos = 10 + max(client_id_len, 0)
            if api_key == API_VERSIONS:
                u_writer.write(struct.pack(">i", size) + body)
                await u_writer.drain()
                rsize = struct.unpack(">i", await u_reader.readexactly(4))[0]
                c_writer.write(struct.pack(">i", rsize) + await u_reader.readexactly(rsize))
                await c_writer.drain()
            elif api_key == API_SASL_HANDSHAKE:
                name_len = struct.unpack(">h", body[pos:pos + 2])[0]
                requested = body[pos + 2:pos + 2 + name_len].decode()
                ok = requested in self.mechanisms
                mechanism = requested if ok else None
                out = struct.pack(">ih", correlation, 0 if ok else ERR_UNSUPPORTED_SASL_MECHANISM)
                out += struct.pack(">i", len(self.mechanisms))
                for m in self.mechanisms:
                    out += struct.pack(">h", len(m)) + m.encode()
                await _send(c_writer, out)
                if not ok:
                    return False
            elif api_key == API_SASL_AUTHENTICATE and mechanism is not None:
                flexible = version >= 2
                if flexible:
                    pos = _skip_tags(body, pos)
                    n, pos = _uvarint(body, pos)
                    token = body[pos:pos + n - 1]
                else:
                    n = struct.unpack(">i", body[pos:pos + 4])[0]
                    token = body[pos + 4:pos + 4 + n]
                answer: bytes | None
                if mechanism == "PLAIN":
                    answer, done = self._plain(token), True
                elif scram is None:
                    scram = _Scram(mechanism, self.users)
                    answer, done = scram.first(token.decode()), False
                else:
                    answer, done = scram.final(token.decode()), True
                    if answer is not None and scram.user:
                        self.stats.users_ok.add(scram.user)
                ok = answer is not None
                error = 0 if ok else ERR_SASL_AUTHENTICATION_FAILED
                message = None if ok else (f"Authentication failed during authentication due to invalid "
                                           f"credentials with SASL mechanism {mechanism}")
                await _send(c_writer, _authenticate_response(correlation, version, error, message, answer or b""))
                if not ok:
                    self.stats.auth_failed += 1
                    return False
                if done:
                    self.stats.auth_ok += 1
                    return True
            else:
                self.stats.refused_unauthenticated += 1
                return False

    def _plain(self, token: bytes) -> bytes | None:
        assert self.users is not None
        try:
            _authz, user, password = token.decode().split("\0")
        except ValueError:
            return None
        if user in self.users and hmac.compare_digest(self.users[user].encode(), password.encode()):
            self.stats.users_ok.add(user)
            return b""
        return None


def _authenticate_response(correlation: int, version: int, error: int, message: str | None, token: bytes) -> bytes:
    if version >= 2:  # flexible: response header v1 (tagged fields), compact strings and bytes
        out = struct.pack(">i", correlation) + b"\0" + struct.pack(">h", error)
        out += b"\0" if message is None else _put_uvarint(len(message.encode()) + 1) + message.encode()
        out += _put_uvarint(len(token) + 1) + token + struct.pack(">q", 0) + b"\0"
        return out
    out = struct.pack(">ih", correlation, error)
    out += struct.pack(">h", -1) if message is None else struct.pack(">h", len(message.encode())) + message.encode()
    out += struct.pack(">i", len(token)) + token
    if version >= 1:
        out += struct.pack(">q", 0)
    return out


async def _send(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(struct.pack(">i", len(payload)) + payload)
    await writer.drain()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
