"""A minimal RESP2 client: Client (a blocking connection to one server),
RedisError (an error reply) and pairs (a flat key/value reply as a dict).
Standard library only, imports nothing from the rest of the package."""

import socket


class RedisError(Exception):
    """An error reply from the server."""


class Client:
    """A blocking RESP2 connection to one server."""

    def __init__(self, port, timeout=60.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = self.sock.makefile("rb")

    def close(self):
        """Closes the connection; errors are ignored."""
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass

    def command(self, *args):
        """Sends one command and returns its reply: bytes, int, list or None.
        An error reply raises RedisError."""
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            if isinstance(arg, str):
                arg = arg.encode()
            elif isinstance(arg, int):
                arg = str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        self.sock.sendall(b"".join(parts))
        return self._read_reply()

    def _read_reply(self):
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self.reader.read(length + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._read_reply() for _ in range(count)]
        raise ConnectionError(f"unexpected reply line {line!r}")

    def info(self, section):
        """INFO <section> as a dict of str to str."""
        text = self.command("INFO", section).decode()
        result = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                key, value = line.split(":", 1)
                result[key] = value
        return result


def pairs(flat):
    """A RESP2 flat key/value list as a dict with str keys."""
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}
