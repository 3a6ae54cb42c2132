"""A whole cluster night on this machine (`scripts/cluster-night`): PostgreSQL, a Prefect server, workers, sandbox.

Everything listens on 127.0.0.1 on free ports and lives in one temporary folder; everything started here
is stopped at the end, also after a failure or Ctrl-C. The night itself is `flows.cluster.cluster_night`,
run from this process against the server, with the accounts' flow runs on the workers.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import metadata
from pathlib import Path

import httpx

from bots.browser_server import BROWSER_WS_ENV, browser_server
from sandbox.server import SandboxServer, free_port

VENV_BIN = Path(sys.executable).parent
#: migrated Prefect server databases between nights (PAYERBOT_CLUSTER_CACHE; git-ignored var/ by default)
CACHE = Path(os.environ.get("PAYERBOT_CLUSTER_CACHE") or Path(__file__).resolve().parents[1] / "var" / "cluster-night")
POOL = "payerbot-cluster"
QUIET_PREFECT = {
    "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    # Workers look for new runs every 2 s instead of 10: a night of a few accounts starts sooner.
    "PREFECT_WORKER_QUERY_SECONDS": "2",
}


def say(message: str) -> None:
    """A progress line (the final summary line is printed separately)."""
    print(message, flush=True)


def _stop(process: subprocess.Popen, name: str, grace_s: float = 15) -> None:
    """Stop a process group we started: SIGTERM, then SIGKILL after the grace period.

    The group is signalled even when its leader has exited: its children (a Node server, a flow run) may not have.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        say(f"{name} did not stop in {grace_s:g} s: killed")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def started(command: list[str], *, name: str, log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """A background process in its own process group (so its children stop with it), logging to `log`."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        yield process
    finally:
        _stop(process, name)


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise SystemExit("no PostgreSQL found (apt-get install postgresql), or pass --database-url")
    return found[-1].parent


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (as the postgres user when root, like `./run test`); its URL."""
    bin_dir = _pg_bin()
    # Its own folder under /tmp: the postgres user cannot enter a root-only parent folder.
    folder = Path(tempfile.mkdtemp(prefix="payerbot-cluster-pg."))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True}
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(folder / "db"), "-U", "payerbot",
                        "--auth=trust", "-E", "UTF8"], **quiet)
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(folder / "db"), "-o",
                        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}", "-l", str(folder / "log"),
                        "-w", "start"], **quiet)
        try:
            subprocess.run([*as_user, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                            "payerbot", "payerbot"], **quiet)
            yield f"postgresql+psycopg://payerbot@127.0.0.1:{port}/payerbot"
        finally:
            subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(folder / "db"), "-m", "fast", "-w",
                            "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def own_schema(base_url: str) -> Iterator[str]:
    """A fresh schema on an existing PostgreSQL database (dropped at the end); the URL that uses it."""
    from sqlalchemy import create_engine, make_url, text

    schema = f"payerbot_cluster_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        # libpq's `options`: every connection of every worker starts with this schema first in its search_path.
        yield make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _template(cache: Path) -> Path:
    """Where a freshly migrated Prefect server database of this Prefect version is kept between nights."""
    return cache / f"prefect-server-{metadata.version('prefect')}.db"


def seed_server_database(prefect_home: Path, cache: Path) -> bool:
    """Start the server from the migrated template if there is one (a fresh database migrates for ~21 s)."""
    template = _template(cache)
    if not template.exists():
        return False
    shutil.copyfile(template, prefect_home / "prefect.db")
    return True


def keep_server_database(prefect_home: Path, cache: Path) -> None:
    """Keep a consistent copy of the just-migrated server database (SQLite's backup API) for the next night."""
    template = _template(cache)
    if template.exists():
        return
    cache.mkdir(parents=True, exist_ok=True)
    partial = template.with_suffix(f".{os.getpid()}.partial")
    with sqlite3.connect(prefect_home / "prefect.db") as source, sqlite3.connect(partial) as copy:
        source.backup(copy)
    partial.replace(template)


def wait_for_health(url: str, process: subprocess.Popen, timeout_s: float = 180) -> None:
    """Until the Prefect server answers /api/health (a fresh database migrates first, ~21 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the Prefect server exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the Prefect server did not answer within {timeout_s:g} s")


def store_accounts(server: SandboxServer, per_portal: int) -> dict[str, int]:
    """Every sandbox login (up to `per_portal` a portal) in the encrypted credential store; accounts per portal."""
    from bots.credentials import Credential, CredentialStore
    from bots.registry import registry

    store, stored = CredentialStore(), {}
    for portal in server.states:
        if portal not in registry():
            continue
        logins = httpx.get(f"{server.url}/_sandbox/{portal}/accounts").json()[:per_portal]
        for n, login in enumerate(logins):
            store.put(Credential(payer_id=portal, account=f"acct-{n + 1}", username=login["username"],
                                 password=login["password"], totp_seed=login["totp_seed"], practice=login["practice"],
                                 portal_url=server.portal_url(portal),
                                 options={"one_time_code_url": f"{server.url}/_sandbox/{portal}/mailbox"}))
        stored[portal] = len(logins)
    return stored


def sandbox_usage(server: SandboxServer) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """From the sandbox: claims looked up, claims looked up twice, and per portal (session peak, allowed)."""
    from bots.registry import get_adapter

    checked = twice = 0
    peaks: dict[str, tuple[int, int]] = {}
    for portal in server.states:
        stats = httpx.get(f"{server.url}/_sandbox/{portal}/stats").json()
        checked += stats["claims_looked_up"]
        twice += stats["claims_looked_up_twice"]
        peaks[portal] = (stats["sessions_in_use_peak"], get_adapter(portal).manifest.max_sessions)
    return checked, twice, peaks


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/cluster-night", description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=8, help="claims per sandbox portal (default 8)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the sandbox's synthetic data")
    parser.add_argument("--authorizations", type=int, default=30,
                        help="prior authorizations per sandbox portal (default 30; each decided one is also a letter)")
    parser.add_argument("--workers", type=int, default=2, help="Prefect workers to start (default 2)")
    parser.add_argument("--accounts-per-portal", type=int, default=2,
                        help="sandbox logins stored per portal (default 2; more than the manifest's max_sessions "
                             "makes the accounts take turns)")
    parser.add_argument("--database-url", help="use this database as it is (default: a fresh schema on "
                        "$PAYERBOT_TEST_POSTGRES_URL if set, else a throw-away PostgreSQL)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds the night may take (default 600)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data) at the end")
    args = parser.parse_args(argv)
    if args.authorizations < 0:
        parser.error("--authorizations: 0 or more is expected")
    return args


def _interrupt(_signal: int, _frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so everything started here is stopped.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the night; 0 when it completed, nothing was checked twice and every session cap held."""
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    folder = Path(tempfile.mkdtemp(prefix="payerbot-cluster-"))
    try:
        with ExitStack() as stack:
            code, summary = _night(args, folder, stack)
            stopping = time.monotonic()
        say(f"stopped everything in {time.monotonic() - stopping:.0f} s")
    except KeyboardInterrupt:
        say("interrupted: everything started was stopped")
        return 130
    finally:
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(summary, flush=True)  # the last line, after everything stopped
    return code


def _night(args: argparse.Namespace, folder: Path, stack: ExitStack) -> tuple[int, str]:
    """Start everything (each part registered on `stack`), run the night; the exit code and the summary line."""
    started_at = time.monotonic()
    if args.database_url:
        database = args.database_url
    elif os.environ.get("PAYERBOT_TEST_POSTGRES_URL"):
        database = stack.enter_context(own_schema(os.environ["PAYERBOT_TEST_POSTGRES_URL"]))
        say("PostgreSQL: a fresh schema on $PAYERBOT_TEST_POSTGRES_URL")
    else:
        database = stack.enter_context(postgres_server())
        say(f"PostgreSQL on {database.rsplit('@', 1)[-1]}")
    api = f"http://127.0.0.1:{free_port()}/api"
    # Set before Prefect is imported in this process: the dispatcher runs here, against the server.
    os.environ.update(QUIET_PREFECT | {
        "PAYERBOT_HOME": str(folder / "home"), "PAYERBOT_SECRETS_DIR": str(folder / "secrets"),
        "PAYERBOT_DATABASE_URL": database, "PREFECT_HOME": str(folder / "prefect"), "PREFECT_API_URL": api,
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING")})
    (folder / "prefect").mkdir()
    seeded = seed_server_database(folder / "prefect", CACHE)
    env = dict(os.environ)
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    port = api.rsplit(":", 1)[1].split("/")[0]
    server = stack.enter_context(started(
        [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port],
        name="Prefect server", log=folder / "prefect-server.log", env=server_env))

    # While the server migrates its database: the sandbox, the work queue, credentials, browsers.
    sandbox = stack.enter_context(SandboxServer(seed=args.seed, claims=args.claims, authorizations=args.authorizations,
                                                accounts_per_practice=args.accounts_per_portal))
    from flows.demo import fetch_inventory
    from workqueue.db import get_engine, init_db, session_scope
    from workqueue.inventory import import_claims

    init_db(get_engine())
    with session_scope(get_engine()) as session:
        import_claims(fetch_inventory(sandbox, folder / "home" / "inventory.csv"), session)
    stored = store_accounts(sandbox, args.accounts_per_portal)
    say(f"sandbox on {sandbox.url}: {', '.join(f'{p} ({n} accounts)' for p, n in stored.items())}, "
        f"{args.claims} claims each")
    names = [f"worker-{n + 1}" for n in range(args.workers)]
    browsers = {name: stack.enter_context(browser_server()) for name in names}  # one Chromium per worker

    wait_for_health(api, server)
    if not seeded:
        keep_server_database(folder / "prefect", CACHE)
    say(f"Prefect server on {api.removesuffix('/api')} ({time.monotonic() - started_at:.0f} s"
        f"{'' if seeded else ', fresh database'})")
    from flows.cluster import ACCOUNT_DEPLOYMENT, ACCOUNT_FLOW, cluster_night
    from flows.deployments import apply_account_deployment

    apply_account_deployment(POOL)
    # Each worker takes at most its share at once, so every worker gets accounts (and 2 cores are not swamped).
    limit = max(1, math.ceil(sum(stored.values()) / args.workers))
    logs = {}
    for name in names:
        logs[name] = folder / f"{name}.log"
        stack.enter_context(started(
            [str(VENV_BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process", "--name", name,
             "--limit", str(limit)],
            name=name, log=logs[name], env=env | {"PAYERBOT_WORKER": name, BROWSER_WS_ENV: browsers[name]}))
    say(f"{args.workers} workers on work pool '{POOL}' ({limit} account runs each at a time), one Chromium each")

    result = cluster_night(payer_ids=sorted(stored), maintenance_wait_minutes=1,
                           deployment=f"{ACCOUNT_FLOW}/{ACCOUNT_DEPLOYMENT}", timeout_minutes=args.timeout / 60)
    by_worker: dict[str, list[str]] = {name: [] for name in names}
    for account, worker in sorted(result["workers"].items()):
        by_worker.setdefault(worker, []).append(account)
    for worker, worked in by_worker.items():
        say(f"{worker}: {', '.join(worked) or '(none)'}")
    for error in result["errors"]:
        say(f"error: {error['payer_id']}/{error['account']}: {error['error']}")
    for key, reason in result["skipped"].items():
        say(f"skipped {key}: {reason}")
    checked, twice, peaks = sandbox_usage(sandbox)
    within = all(peak <= allowed for peak, allowed in peaks.values())
    say("sessions (peak/allowed): " + ", ".join(f"{p} {peak}/{allowed}" for p, (peak, allowed) in peaks.items()))
    ok = not result["errors"] and not result["skipped"] and twice == 0 and within
    if result["errors"]:
        for name, log in logs.items():
            print(f"--- {name} log (last lines) ---\n{_tail(log)}", file=sys.stderr)
    say(f"bot run {result['run_id']}: {time.monotonic() - started_at:.0f} s from start to the night's end")
    summary = (f"cluster night: {args.workers} workers, {len(result['accounts'])} accounts, {checked} claims "
               f"checked, {twice} checked twice, sessions within limits: {'yes' if within else 'no'}")
    return (0 if ok else 1), summary


if __name__ == "__main__":
    sys.exit(main())
