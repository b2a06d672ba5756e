"""`mage start` behind a guard: only this machine's own pages may talk to it.

Mage 0.9.80 answers every API call with `Access-Control-Allow-Origin: *` (hard-coded in its
handlers, no setting turns it off), accepts any Host header and lets any Origin open its
websockets (`check_origin` returns True). So a web page open in the user's browser could call
it on 127.0.0.1, directly or through DNS rebinding. This launcher runs Mage's own command line
in this process after two changes to Tornado, Mage's web server:

- a request whose Host is not the address Mage serves on, or whose Origin is another site, is
  answered 403 before any Mage handler runs (websockets included);
- no response carries an `Access-Control-Allow-*` header: the UI is same-origin and needs none.

It also keeps the owner account in step with MAGE_OWNER_PASSWORD: Mage creates the owner from
DEFAULT_OWNER_PASSWORD only when none exists, so a rotated password is written to it here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

REFUSED_HEADER_PREFIX = "access-control-allow-"


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The Host values of Mage's own address: what the browser sends for the URL `make up` prints."""
    names = {host, "127.0.0.1", "localhost"} if host in {"127.0.0.1", "localhost"} else {host}
    return frozenset(f"{name}:{port}" for name in names)


def refusal(host: str | None, origin: str | None, hosts: Iterable[str]) -> str | None:
    """Why a request is refused (foreign Host or Origin), or None when it may pass."""
    hosts = set(hosts)
    if (host or "").lower() not in hosts:
        return f"Host {host!r} is not this Mage's address"
    if origin is not None and origin.lower() not in {f"http://{name}" for name in hosts}:
        return f"Origin {origin!r} is not this Mage's address"
    return None


def install(hosts: frozenset[str]) -> None:
    """Patch Tornado: refuse foreign Host/Origin, never grant CORS."""
    import tornado.web

    class Refused(tornado.web.RequestHandler):
        def initialize(self, reason: str) -> None:
            self.reason = reason

        def prepare(self) -> None:
            self.set_status(403)
            self.finish({"error": {"code": 403, "message": self.reason}})

    find_handler = tornado.web.Application.find_handler

    def guarded_find_handler(self, request, **kwargs):
        reason = refusal(request.headers.get("Host"), request.headers.get("Origin"), hosts)
        if reason:
            return self.get_handler_delegate(request, Refused, {"reason": reason})
        return find_handler(self, request, **kwargs)

    set_header = tornado.web.RequestHandler.set_header
    add_header = tornado.web.RequestHandler.add_header

    def set_header_without_cors(self, name, value):
        if not name.lower().startswith(REFUSED_HEADER_PREFIX):
            set_header(self, name, value)

    def add_header_without_cors(self, name, value):
        if not name.lower().startswith(REFUSED_HEADER_PREFIX):
            add_header(self, name, value)

    tornado.web.Application.find_handler = guarded_find_handler
    tornado.web.RequestHandler.set_header = set_header_without_cors
    tornado.web.RequestHandler.add_header = add_header_without_cors


def keep_owner_password() -> None:
    """After Mage creates (or finds) its owner, set the owner's password to DEFAULT_OWNER_PASSWORD."""
    from mage_ai.server import server

    initialize = server.initialize_user_authentication

    def initialize_and_sync(*args, **kwargs):
        from mage_ai.authentication.passwords import create_bcrypt_hash, generate_salt, verify_password
        from mage_ai.orchestration.db.models.oauth import User

        application = initialize(*args, **kwargs)
        email, password = os.environ["DEFAULT_OWNER_EMAIL"], os.environ["DEFAULT_OWNER_PASSWORD"]
        owner = User.query.filter(User.email == email).first()
        if owner is not None and not verify_password(password, owner.password_hash or ""):
            salt = generate_salt()
            owner.update(password_hash=create_bcrypt_hash(password, salt), password_salt=salt)
            print(f"mage_guard: password of {email} set from MAGE_OWNER_PASSWORD", flush=True)
        return application

    server.initialize_user_authentication = initialize_and_sync


def main() -> int:
    """`python -m ops.stack.mage_guard start <project> --host H --port P`: Mage's CLI, guarded."""
    if not os.environ.get("DEFAULT_OWNER_PASSWORD"):
        print("mage_guard: DEFAULT_OWNER_PASSWORD is empty; run `make setup`", file=sys.stderr)
        return 2
    install(allowed_hosts(os.environ["MAGE_HOST"], int(os.environ["MAGE_PORT"])))
    keep_owner_password()
    from mage_ai.cli.main import app

    sys.argv[0] = "mage"
    return app()


if __name__ == "__main__":
    raise SystemExit(main())
