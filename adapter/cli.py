"""The `dthub` command: serve (later: import, demo, clients, token, ...)."""
from __future__ import annotations

import argparse
import sys

from .config import config_from_env


def _serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

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

        def load(self):
            # Each worker builds its own app (engine, pools) after the fork.
            from . import create_app

            return create_app(config)

    print(f"Serving FHIR R4 at {config.fhir_base}  (store: {config.database_url})", file=sys.stderr)
    _Server().run()
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
