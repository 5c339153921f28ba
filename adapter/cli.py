"""The `dthub` command: serve, clients, keygen, token, keys, policy (import, export, demo, push: their own modules)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from .config import config_from_env


def _store():
    from .store import open_repository

    config = config_from_env()
    repo = open_repository(config)
    return config, repo.engine, repo


def _serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    from .heap import post_worker_init

    config = config_from_env()
    config = config.with_(host=args.host or config.host, port=args.port or config.port)

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{config.host}:{config.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-" if args.access_log else None)
            self.cfg.set("timeout", 60)
            self.cfg.set("post_worker_init", post_worker_init)

        def load(self):
            # Each worker builds its own app (engine, pools) after the fork.
            from . import create_app

            return create_app(config)

    print(f"Serving FHIR R4 at {config.fhir_base}  (store: {config.database_url})", file=sys.stderr)
    _Server().run()
    return 0


def _policy(args: argparse.Namespace) -> int:
    from .auth.clients import ClientRegistry
    from .enforcement.state import PolicyState
    from .interactions.policy_matrix import matrix_rows, principal_of
    from .policy import policy_matrix

    config, engine, repo = _store()
    record = ClientRegistry(engine).get(args.client_id)
    if record is None:
        print(f"no client {args.client_id!r} is registered", file=sys.stderr)
        return 1
    principal = principal_of(record)
    if args.purpose:
        principal = principal.__class__(principal.client_id, principal.org, principal.role, principal.scopes,
                                        args.purpose)
    state = PolicyState(repo, today=config.policy_today)
    if args.json:
        print(orjson.dumps(policy_matrix(principal, state.for_caller(principal).grants),
                           option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"{principal.client_id}  role {principal.role}  organisation {principal.org or '-'}  "
          f"purpose {principal.purpose}  on {state.today().isoformat()}")
    print(f"{'data type':<24}{'level':<10}{'practices':<11}sources")
    for data_type, level, reach, sources in matrix_rows(state, principal):
        print(f"{data_type:<24}{level:<10}{reach:<11}{sources}")
    return 0


def _print_client(record) -> None:
    keys = "jwks-url " + record.jwks_url if record.jwks_url else f"{len(record.jwks['keys'])} key(s)"
    state = "enabled" if record.enabled else "DISABLED"
    print(f"{record.client_id}\t{record.role}\t{record.org or '-'}\t{record.scopes}\t"
          f"{' '.join(record.purposes) or '-'}\t{keys}\t{state}")


def _read_jwks(path: str | None) -> dict | None:
    return orjson.loads(Path(path).read_bytes()) if path else None


def _clients(args: argparse.Namespace) -> int:
    from .auth.clients import ORG_FREE_ROLES, ClientRegistry, RegistryError

    _config, engine, repo = _store()
    registry = ClientRegistry(engine)
    try:
        if args.action == "add":
            if args.role not in ORG_FREE_ROLES:
                found = repo.read("Organization", args.org or "")
                if found is None or found.deleted:
                    raise RegistryError(f"Organization/{args.org} is not in the store; import it first")
            record = registry.add(args.client_id, org=args.org, role=args.role, scopes=args.scope,
                                  purposes=args.purpose or [], jwks=_read_jwks(args.jwks), jwks_url=args.jwks_url)
            _print_client(record)
        elif args.action == "list":
            for record in registry.list():
                _print_client(record)
        elif args.action in ("disable", "enable"):
            _print_client(registry.set_enabled(args.client_id, args.action == "enable"))
        elif args.action == "demo":
            from .auth.demo_clients import register_demo_clients

            config = config_from_env()
            print(f"Demo clients (keys in {args.keys_dir}); the FHIR base is {config.fhir_base}")
            for demo, key_file in register_demo_clients(repo, registry, Path(args.keys_dir)):
                print(f"  {demo.client_id:16} role={demo.role:10} org={demo.org or '-':8} "
                      f"token: dthub token --client-id {demo.client_id} --key {key_file}")
        elif args.action == "rotate-keys":
            _print_client(registry.set_keys(args.client_id, jwks=_read_jwks(args.jwks), jwks_url=args.jwks_url))
    except (RegistryError, OSError, orjson.JSONDecodeError) as exc:
        print(f"dthub clients {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from .auth.assertion import generate_key

    private, jwks = generate_key(args.kid, args.kty)
    Path(args.private).parent.mkdir(parents=True, exist_ok=True)
    Path(args.private).write_bytes(orjson.dumps(private, option=orjson.OPT_INDENT_2))
    Path(args.private).chmod(0o600)
    Path(args.jwks).write_bytes(orjson.dumps(jwks, option=orjson.OPT_INDENT_2))
    print(f"private key: {args.private}\npublic JWKS: {args.jwks}")
    return 0


def _token(args: argparse.Namespace) -> int:
    from .auth.assertion import load_private_jwk, request_token, sign_assertion

    token_url = args.token_url or config_from_env().token_url
    try:
        jwk = load_private_jwk(Path(args.key))
        assertion = sign_assertion(jwk, args.client_id, token_url, purpose=args.purpose)
        body = request_token(token_url, assertion, args.scope)
    except Exception as exc:  # a person reads this: one line, no trace
        print(f"dthub token: {exc}", file=sys.stderr)
        return 1
    print(body["access_token"])
    return 0


def _keys(args: argparse.Namespace) -> int:
    from .auth.server_keys import ServerKeys

    config, engine, _repo = _store()
    keys = ServerKeys(engine, grace_seconds=config.key_grace_seconds)
    keys.ensure()
    print(f"new signing key {keys.rotate()}; earlier keys verify for {config.key_grace_seconds} s more")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dthub", description="D&T Hub FHIR adapter")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the FHIR endpoint with gunicorn")
    serve.add_argument("--host", help="address to bind (default DTHUB_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default DTHUB_PORT or 8080)")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    serve.add_argument("--access-log", action="store_true", help="log every request to stdout")
    serve.set_defaults(func=_serve)

    clients = sub.add_parser("clients", help="register and manage API clients")
    csub = clients.add_subparsers(dest="action", required=True)
    add = csub.add_parser("add", help="register a client")
    add.add_argument("--client-id", required=True)
    add.add_argument("--org", help="ODS code of the organisation it acts for")
    add.add_argument("--role", required=True, choices=["practice", "pcn", "federation", "icb", "external", "service"])
    keys = add.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks", help="file with the client's public JWKS")
    keys.add_argument("--jwks-url", help="URL of the client's public JWKS")
    add.add_argument("--scope", default="system/*.rs", help='scopes it may be granted (default "system/*.rs")')
    add.add_argument("--purpose", action="append", choices=["HMARKT", "HOPERAT", "HQUALIMP"],
                     help="a purpose of use it may claim (repeatable; the first is its default)")
    csub.add_parser("list", help="list clients")
    for action in ("disable", "enable"):
        p = csub.add_parser(action, help=f"{action} a client")
        p.add_argument("--client-id", required=True)
    demo = csub.add_parser("demo", help="register one demo client per role, keys under --keys-dir")
    demo.add_argument("--keys-dir", default="var/demo-keys")
    rotate = csub.add_parser("rotate-keys", help="replace a client's public keys")
    rotate.add_argument("--client-id", required=True)
    rkeys = rotate.add_mutually_exclusive_group(required=True)
    rkeys.add_argument("--jwks")
    rkeys.add_argument("--jwks-url")
    clients.set_defaults(func=_clients)

    keygen = sub.add_parser("keygen", help="make a client key pair (private JWK + public JWKS)")
    keygen.add_argument("--kid", required=True)
    keygen.add_argument("--kty", choices=["EC", "RSA"], default="EC")
    keygen.add_argument("--private", required=True, help="where to write the private JWK")
    keygen.add_argument("--jwks", required=True, help="where to write the public JWKS")
    keygen.set_defaults(func=_keygen)

    token = sub.add_parser("token", help="get a bearer token (signs an assertion, calls the token endpoint)")
    token.add_argument("--client-id", required=True)
    token.add_argument("--key", required=True, help="private JWK (JSON) or PEM key file")
    token.add_argument("--scope", default="system/*.rs")
    token.add_argument("--purpose", choices=["HMARKT", "HOPERAT", "HQUALIMP"])
    token.add_argument("--token-url", help="default: DTHUB_BASE_URL/auth/token")
    token.set_defaults(func=_token)

    policy = sub.add_parser("policy", help="the data-use policy as the server enforces it")
    psub = policy.add_subparsers(dest="policy_command", required=True)
    pmatrix = psub.add_parser("matrix", help="a client's effective grants (as GET /fhir/$policy-matrix)")
    pmatrix.add_argument("--client-id", required=True)
    pmatrix.add_argument("--purpose", choices=("HMARKT", "HOPERAT", "HQUALIMP"),
                         help="judge for this purpose instead of the client's default")
    pmatrix.add_argument("--json", action="store_true", help="print the Parameters resource instead of a table")
    policy.set_defaults(func=_policy)

    keys_cmd = sub.add_parser("keys", help="the server's token-signing keys")
    ksub = keys_cmd.add_subparsers(dest="action", required=True)
    ksub.add_parser("rotate", help="start signing with a new key (old tokens stay valid)")
    keys_cmd.set_defaults(func=_keys)

    from . import cli_data, cli_demo
    from .push import command as push_command

    cli_data.register(sub)
    cli_demo.register(sub)
    push_command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
