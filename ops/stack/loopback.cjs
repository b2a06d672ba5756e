// Preloaded into Node helpers of the native stack (LocalStack's kinesis-mock) through
// NODE_OPTIONS="--require .../loopback.cjs": a server that asks for every interface, or for
// none in particular, listens on 127.0.0.1 instead, so nothing is reachable from outside.
"use strict";
const net = require("net");

const LOOPBACK = "127.0.0.1";
const WILDCARDS = new Set([undefined, null, "", "0.0.0.0", "::", "::0"]);
const listen = net.Server.prototype.listen;

function isPort(value) {
  return typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value));
}

net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === "object" && !Array.isArray(first)) {
    if (first.path === undefined && WILDCARDS.has(first.host)) {
      args[0] = { ...first, host: LOOPBACK };
    }
  } else if (isPort(first) || first === undefined) {
    if (typeof args[1] === "string") {
      if (WILDCARDS.has(args[1])) args[1] = LOOPBACK;
    } else {
      args.splice(1, 0, LOOPBACK);
      if (first === undefined) args[0] = 0;
    }
  }
  return listen.apply(this, args);
};
