"""``ymt-graph``: serve | worker | dev | migrate | seed | apikey | schema | documents."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ymt_graph.settings import Settings, get_settings

log = logging.getLogger("ymt_graph.cli")
SCHEMA_FILE = Path("schema.graphql")


def _resolved(stack: contextlib.ExitStack) -> Settings:
    """Settings with real URLs: the configured servers, else embedded ones (dev default)."""
    from ymt_graph.embedded import resolve_urls

    settings = get_settings()
    database_url, redis_url = resolve_urls(settings, stack)
    return settings.model_copy(update={"database_url": database_url, "redis_url": redis_url})


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from ymt_graph.app import create_app

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="info",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        _serve(_resolved(stack), args.host, args.port)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from ymt_graph.jobs.worker import run_worker

    with contextlib.ExitStack() as stack:
        run_worker(_resolved(stack))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from ymt_graph.migrate import upgrade

    with contextlib.ExitStack() as stack:
        settings = _resolved(stack)
        assert settings.database_url
        upgrade(settings.database_url, args.revision)
    print("migrated to", args.revision)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from ymt_graph.seed import seed

    with contextlib.ExitStack() as stack:
        settings = _resolved(stack)
        assert settings.database_url
        asyncio.run(seed(settings.database_url, scale=args.scale, reset=args.reset))  # prints its summary
    return 0


def cmd_apikey_create(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from ymt_graph.access import Role
    from ymt_graph.db import get_engine, table
    from ymt_graph.org.identity import check_scopes, create_api_key
    from ymt_graph.org.models import Dealer, Tenant

    scopes = check_scopes(args.scopes.replace(",", " ").split())

    async def run(url: str) -> str:
        engine = get_engine(url)
        async with engine.begin() as conn:
            t, d = table(Tenant), table(Dealer)
            tenant_id = (await conn.execute(sa.select(t.c.id).where(t.c.code == args.tenant))).scalar_one_or_none()
            if tenant_id is None:
                raise SystemExit(f"no tenant {args.tenant!r}")
            dealer_id = None
            if args.dealer:
                dealer_id = (
                    await conn.execute(sa.select(d.c.id).where(d.c.tenant_id == tenant_id, d.c.code == args.dealer))
                ).scalar_one_or_none()
                if dealer_id is None:
                    raise SystemExit(f"no dealer {args.dealer!r}")
            secret = await create_api_key(conn, tenant_id, args.name, scopes, dealer_id, role=Role(args.role))
        await engine.dispose()
        return secret

    if args.role not in ("INTEGRATION", "ANALYST"):
        raise SystemExit("An API key is INTEGRATION (rights = its scopes) or ANALYST (read-only, tenant-wide).")
    with contextlib.ExitStack() as stack:
        settings = _resolved(stack)
        assert settings.database_url
        secret = asyncio.run(run(settings.database_url))
    print(secret)
    print("Shown once; only its hash is stored. Send it as: Authorization: Bearer <key>", file=sys.stderr)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from ymt_graph.api.schema import schema_sdl

    sdl = schema_sdl()
    target = Path(args.file)
    if args.action == "export":
        target.write_text(sdl, encoding="utf-8")
        print(f"wrote {target}")
        return 0
    current = target.read_text(encoding="utf-8") if target.exists() else ""
    if current != sdl:
        print(f"{target} is out of date: run `ymt-graph schema export`", file=sys.stderr)
        return 1
    print(f"{target} is up to date")
    return 0


def cmd_documents_register(args: argparse.Namespace) -> int:
    """Trusted documents (API.md "Persisted queries"): each file is one document, registered under
    ``sha256:<hex of its text>`` — the id a client sends as ``documentId`` (or, as hex, as the APQ
    ``sha256Hash`` of the same text). Idempotent: run it at each deploy with the clients' documents."""
    from graphql import GraphQLError, parse
    from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the dev deps

    from ymt_graph.api.persisted import document_id, keys, register

    valid: list[tuple[Path, str]] = []
    failed = False
    files = [Path(f) for f in args.files]
    for path in tqdm(files, desc="reading", unit="file", disable=len(files) < 20, file=sys.stderr):
        try:
            text = path.read_text(encoding="utf-8")
            parse(text)
        except (OSError, UnicodeDecodeError, GraphQLError) as exc:
            print(f"{path}: not registered: {exc}", file=sys.stderr)
            failed = True
            continue
        valid.append((path, text))
    if failed and not args.skip_invalid:
        print("nothing registered (--skip-invalid registers the others)", file=sys.stderr)
        return 1
    with contextlib.ExitStack() as stack:
        settings = _resolved(stack)
        registered = asyncio.run(register(settings, [text for _, text in valid]))
    ids = dict(registered)
    for path, text in valid:
        doc_id = document_id(text)
        print(f"{doc_id}  {path}  {'registered' if ids[doc_id] else 'already registered'}")
    new = sum(is_new for _, is_new in registered)
    print(f"{len(registered)} documents ({new} new) in {keys(settings)[1]}", file=sys.stderr)
    return 1 if failed else 0


def cmd_documents_remove(args: argparse.Namespace) -> int:
    """Take documents off the trusted list, by id (``sha256:<hex>``) or by the file registered.
    Every API process stops running them within ``persisted.TRUST_SECONDS``."""
    from ymt_graph.api.persisted import document_id, keys, unregister
    from ymt_graph.graph.errors import CodedError

    ids: list[str] = []
    for item in args.documents:
        try:
            ids.append(item if item.startswith("sha256:") else document_id(Path(item).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{item}: not a document id, nor a readable file: {exc}", file=sys.stderr)
            return 1
    with contextlib.ExitStack() as stack:
        settings = _resolved(stack)
        try:
            removed = asyncio.run(unregister(settings, ids))
        except CodedError as exc:
            print(f"nothing removed: {exc.message}", file=sys.stderr)
            return 1
    for (doc_id, was), item in zip(removed, args.documents, strict=True):
        source = f"  {item}" if item != doc_id else ""
        print(f"{doc_id}{source}  {'removed' if was else 'was not registered'}")
    print(f"{sum(was for _, was in removed)} removed from {keys(settings)[1]}", file=sys.stderr)
    return 0


def cmd_documents_list(args: argparse.Namespace) -> int:
    """The trusted documents: id and each one's first operation (or its first line)."""
    from ymt_graph.api.persisted import keys, registered

    with contextlib.ExitStack() as stack:
        settings = _resolved(stack)
        documents = asyncio.run(registered(settings))
    for doc_id, text in sorted(documents.items(), key=lambda item: _operation_of(item[1])):
        print(f"{doc_id}  {_operation_of(text)}")
    print(f"{len(documents)} documents in {keys(settings)[1]}", file=sys.stderr)
    return 0


def _operation_of(text: str) -> str:
    """``query DealerSkuPage``: a document's first operation, as a person looks for it."""
    from graphql import GraphQLError, OperationDefinitionNode, parse

    try:
        ops = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    except GraphQLError:
        ops = []
    if not ops:
        return text.strip().splitlines()[0][:60] if text.strip() else "(empty)"
    op, more = ops[0], f" (+{len(ops) - 1})" if len(ops) > 1 else ""
    return f"{op.operation.value} {op.name.value if op.name else '(anonymous)'}{more}"


def cmd_dev(args: argparse.Namespace) -> int:
    """The whole thing on one machine: services, schema, demo data, API, worker."""
    from ymt_graph.migrate import upgrade
    from ymt_graph.seed import DEMO_LOGINS, DEMO_PASSWORD, seed

    with contextlib.ExitStack() as stack:
        settings = _resolved(stack)
        assert settings.database_url and settings.redis_url
        print("migrating …", flush=True)
        upgrade(settings.database_url)
        asyncio.run(seed(settings.database_url, scale="demo"))
        env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
        worker = subprocess.Popen([sys.executable, "-m", "ymt_graph.cli", "worker"], env=env)
        stack.callback(_stop, worker)
        url = f"http://{args.host}:{args.port}/graphql"
        print(f"\n  ymt-graph is up: {url}  (GraphiQL in a browser)\n")
        print(f"  demo logins (password {DEMO_PASSWORD!r}):")
        for email, role, what in DEMO_LOGINS:
            print(f"    {email:<28} {role:<13} {what}")
        print('\n  mutation { tokenCreate(input: {email: "admin@demo.example", password: "demo-password"}) { token } }')
        print("  then send  Authorization: Bearer <token>\n  Ctrl-C stops everything.\n", flush=True)
        _serve(settings, args.host, args.port)
    return 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ymt-graph", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    for name, fn, help_ in (("serve", cmd_serve, "serve the API"), ("dev", cmd_dev, "services + demo + API + worker")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.set_defaults(func=fn)

    p = sub.add_parser("worker", help="run the arq worker")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--revision", default="heads")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="load the demo tenant")
    p.add_argument("--scale", choices=("demo", "full"), default="demo")
    p.add_argument("--reset", action="store_true", help="delete the demo tenant first")
    p.set_defaults(func=cmd_seed)

    apikey = sub.add_parser("apikey", help="integrator API keys").add_subparsers(dest="action", required=True)
    p = apikey.add_parser("create", help="create a key (printed once)")
    p.add_argument("--role", default="INTEGRATION", choices=("INTEGRATION", "ANALYST"))
    p.add_argument("--scopes", required=True, help="e.g. 'catalog:read dealers:read'")
    p.add_argument("--name", default="integration")
    p.add_argument("--tenant", default="demo")
    p.add_argument("--dealer", help="bind the key to a dealer code (it then sees that subtree only)")
    p.set_defaults(func=cmd_apikey_create)

    documents = sub.add_parser("documents", help="trusted documents").add_subparsers(dest="action", required=True)
    p = documents.add_parser("register", help="register GraphQL documents (one per file) as trusted")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--skip-invalid", action="store_true",
                   help="register the files that parse even if others do not (exit status 1 still)")
    p.set_defaults(func=cmd_documents_register)
    p = documents.add_parser("remove", help="take documents off the trusted list (by sha256:<hex> id or file)")
    p.add_argument("documents", nargs="+", metavar="ID_OR_FILE")
    p.set_defaults(func=cmd_documents_remove)
    p = documents.add_parser("list", help="the trusted documents: id and operation")
    p.set_defaults(func=cmd_documents_list)

    p = sub.add_parser("schema", help="export or check schema.graphql")
    p.add_argument("action", choices=("export", "check"))
    p.add_argument("--file", default=str(SCHEMA_FILE))
    p.set_defaults(func=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
