"""Twisted's own echo client, pointed at twc (tests/interop/echo.bats).

    twisted_echo_client.py tcp HOST PORT [BYTES]   send BYTES random bytes (default
                                                   65536) and check the echo
    twisted_echo_client.py udp HOST PORT           send three datagrams, check each echo

Exit status 0 when everything came back intact, 1 otherwise (with the reason on
stderr). Every run is bounded by a 20-second deadline on Twisted's reactor.
"""

import os
import sys

from twisted.internet import protocol, reactor

DEADLINE_S = 20
result = {"status": 1, "why": "no result"}


def finish(status, why):
    if result["why"] == "no result":
        result["status"] = status
        result["why"] = why
    if reactor.running:
        reactor.stop()


class EchoCheck(protocol.Protocol):
    """Write the payload in pieces, expect exactly it back, then close."""

    def __init__(self, payload):
        self.payload = payload
        self.got = bytearray()

    def connectionMade(self):
        self.transport.setTcpNoDelay(True)
        step = 16384
        for i in range(0, len(self.payload), step):
            self.transport.write(self.payload[i:i + step])

    def dataReceived(self, data):
        self.got += data
        if len(self.got) > len(self.payload):
            finish(1, "got %d bytes back, sent %d" % (len(self.got), len(self.payload)))
        elif len(self.got) == len(self.payload):
            if bytes(self.got) == self.payload:
                self.transport.loseConnection()
            else:
                finish(1, "echoed bytes differ from the bytes sent")

    def connectionLost(self, reason):
        if len(self.got) == len(self.payload) and bytes(self.got) == self.payload:
            finish(0, "ok")
        else:
            finish(1, "connection lost after %d of %d bytes: %s"
                   % (len(self.got), len(self.payload), reason.getErrorMessage()))


class EchoCheckFactory(protocol.ClientFactory):
    def __init__(self, payload):
        self.payload = payload

    def buildProtocol(self, addr):
        return EchoCheck(self.payload)

    def clientConnectionFailed(self, connector, reason):
        finish(1, "connection failed: " + reason.getErrorMessage())


class DatagramCheck(protocol.DatagramProtocol):
    """Send a few datagrams to one peer and expect each one back."""

    def __init__(self, host, port, datagrams):
        self.host = host
        self.port = port
        self.pending = list(datagrams)

    def startProtocol(self):
        self.transport.connect(self.host, self.port)
        for d in self.pending:
            self.transport.write(d)

    def datagramReceived(self, data, addr):
        if data not in self.pending:
            finish(1, "unexpected datagram of %d bytes from %r" % (len(data), addr))
            return
        self.pending.remove(data)
        if not self.pending:
            finish(0, "ok")

    def connectionRefused(self):
        finish(1, "datagram refused (nothing listening?)")


def main(argv):
    if len(argv) not in (4, 5) or argv[1] not in ("tcp", "udp"):
        sys.stderr.write(__doc__)
        return 64
    kind, host, port = argv[1], argv[2], int(argv[3])
    if kind == "tcp":
        size = int(argv[4]) if len(argv) == 5 else 65536
        reactor.connectTCP(host, port, EchoCheckFactory(os.urandom(size)), timeout=10)
    else:
        datagrams = [b"twisted udp 1", os.urandom(512), b"twisted udp 3 " + os.urandom(8)]
        bind = "::1" if ":" in host else "127.0.0.1"
        reactor.listenUDP(0, DatagramCheck(host, port, datagrams), interface=bind)
    reactor.callLater(DEADLINE_S, finish, 1, "no complete echo within %d s" % DEADLINE_S)
    reactor.run()
    if result["status"] != 0:
        sys.stderr.write("twisted_echo_client: %s\n" % result["why"])
    return result["status"]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
