"""Twisted's echo server, as in Twisted's documentation ("Writing Servers"),
for tests/bench/run.sh. Usage: python3 twisted_echo.py [PORT]  (default 0)
Prints {"event":"listening","port":N} once bound, like `twc echo`."""
import sys
from twisted.internet import endpoints, protocol, reactor


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class EchoFactory(protocol.Factory):
    def buildProtocol(self, addr):
        return Echo()


def listening(port):
    print('{"event":"listening","port":%d}' % port.getHost().port, flush=True)


port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
endpoint = endpoints.serverFromString(reactor, "tcp:%d:interface=127.0.0.1" % port)
endpoint.listen(EchoFactory()).addCallbacks(listening, lambda f: (f.printTraceback(), reactor.stop()))
reactor.run()
