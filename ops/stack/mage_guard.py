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

In a container (docker-compose.yml) Mage binds 0.0.0.0 inside its network namespace, an address no
browser names: MAGE_GUARD_HOSTS lists the Host values it is reached by instead (the port compose
publishes on 127.0.0.1, the service name the other containers use), and the owner's login comes
from MAGE_OWNER_EMAIL / MAGE_OWNER_PASSWORD as `.env` holds them when DEFAULT_OWNER_* are unset.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping

REFUSED_HEADER_PREFIX = "access-control-allow-"
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The Host values of Mage's own address: what the browser sends for the URL `make up` prints."""
    names = {host, "127.0.0.1", "localhost"} if host in {"127.0.0.1", "localhost"} else {host}
    return frozenset(f"{name}:{port}" for name in names)


def guarded_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """Mage's own address (MAGE_HOST, MAGE_PORT) and the `host:port` values in MAGE_GUARD_HOSTS."""
    extra = {name.strip().lower() for name in environ.get("MAGE_GUARD_HOSTS", "").split(",") if name.strip()}
    malformed = sorted(name for name in extra if not name.rpartition(":")[2].isdigit())
    if malformed:
        raise ValueError(f"MAGE_GUARD_HOSTS: {', '.join(malformed)} is not host:port (e.g. 127.0.0.1:6789)")
    host = environ["MAGE_HOST"]
    # A wildcard bind address (a container's 0.0.0.0) is no address a client names.
    own = frozenset() if host in WILDCARD_ADDRESSES else allowed_hosts(host, int(environ["MAGE_PORT"]))
    if not own | extra:
        raise ValueError(
            f"MAGE_HOST={host} names no address: list the ones Mage is reached by in MAGE_GUARD_HOSTS"
        )
    return own | extra


def owner_login(environ: Mapping[str, str]) -> dict[str, str]:
    """Mage's DEFAULT_OWNER_* variables, from the project's MAGE_OWNER_* where they are not set."""
    return {
        "DEFAULT_OWNER_EMAIL": environ.get("DEFAULT_OWNER_EMAIL") or environ.get("MAGE_OWNER_EMAIL", ""),
        "DEFAULT_OWNER_USERNAME": environ.get("DEFAULT_OWNER_USERNAME") or "owner",
        "DEFAULT_OWNER_PASSWORD": environ.get("DEFAULT_OWNER_PASSWORD")
        or environ.get("MAGE_OWNER_PASSWORD", ""),
    }


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
    os.environ.update(owner_login(os.environ))
    if not os.environ["DEFAULT_OWNER_PASSWORD"]:
        print(
            "mage_guard: MAGE_OWNER_PASSWORD is empty; run `make setup` (it writes one to .env)",
            file=sys.stderr,
        )
        return 2
    try:
        hosts = guarded_hosts(os.environ)
    except ValueError as error:
        print(f"mage_guard: {error}", file=sys.stderr)
        return 2
    install(hosts)
    print(f"mage_guard: requests must name one of {', '.join(sorted(hosts))}", flush=True)
    keep_owner_password()
    from mage_ai.cli.main import app

    sys.argv[0] = "mage"
    return app()


if __name__ == "__main__":
    raise SystemExit(main())
