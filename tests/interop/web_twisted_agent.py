"""Twisted's HTTP client (twisted.web.client.Agent) against `twc web`
(tests/interop/web.bats).

    web_twisted_agent.py URL EXPECTED_FILE

GETs URL three times over one persistent connection (HTTPConnectionPool with
persistent=True) and checks each body equals EXPECTED_FILE's bytes. Exit 0 on
success, 1 with the reason on stderr. Bounded by a 20-second deadline.
"""

import sys

from twisted.internet import reactor
from twisted.web.client import Agent, HTTPConnectionPool, readBody

DEADLINE_S = 20
url, expected_path = sys.argv[1].encode(), sys.argv[2]
with open(expected_path, "rb") as f:
    expected = f.read()
result = {"status": 1, "why": "no result"}
pool = HTTPConnectionPool(reactor, persistent=True)
agent = Agent(reactor, pool=pool)


def finish(status, why):
    if result["why"] == "no result":
        result["status"] = status
        result["why"] = why
    if reactor.running:
        reactor.stop()


def fetch(n):
    if n == 0:
        finish(0, "ok")
        return None
    d = agent.request(b"GET", url)

    def got(response):
        if response.code != 200:
            raise RuntimeError("status %d" % response.code)
        return readBody(response)

    def check(body):
        if body != expected:
            raise RuntimeError("body of %d bytes differs" % len(body))
        return fetch(n - 1)

    d.addCallback(got)
    d.addCallback(check)
    d.addErrback(lambda f: finish(1, str(f.value)))
    return d


reactor.callWhenRunning(fetch, 3)
reactor.callLater(DEADLINE_S, finish, 1, "deadline")
reactor.run()
if result["status"] != 0:
    print(result["why"], file=sys.stderr)
sys.exit(result["status"])
