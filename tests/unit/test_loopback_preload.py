"""The Node preload keeps kinesis-mock (and any Node helper) off the external interfaces."""

import json
import subprocess

import pytest

from ops.stack.components import LOOPBACK_PRELOAD

pytestmark = pytest.mark.unit

SERVER_SCRIPT = """
const net = require("net");
const results = [];
const calls = [
  (s, cb) => s.listen(0, cb),
  (s, cb) => s.listen(0, "0.0.0.0", cb),
  (s, cb) => s.listen({ port: 0, host: "::" }, cb),
  (s, cb) => s.listen({ port: 0 }, cb),
  (s, cb) => s.listen(0, "127.0.0.1", 5, cb),
];
let pending = calls.length;
calls.forEach((call, index) => {
  const server = net.createServer();
  call(server, () => {
    results[index] = server.address().address;
    server.close();
    if (--pending === 0) console.log(JSON.stringify(results));
  });
});
"""


def test_every_listen_form_binds_loopback():
    result = subprocess.run(
        ["node", "--require", str(LOOPBACK_PRELOAD), "-e", SERVER_SCRIPT],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(result.stdout) == ["127.0.0.1"] * 5
