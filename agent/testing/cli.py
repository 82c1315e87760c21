"""`agent scripted-server`: serve a script file until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from agent.errors import AgentError, UserError
from agent.testing.script import Script
from agent.testing.server import RecordedRequest, ScriptedServer

SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"})


def serve_command(script: Path, *, port: int, record: Path | None) -> int:
    """Load SCRIPT, print the server's URL, serve until interrupted; 0 on a clean stop."""
    loaded = Script.load(script)
    server = ScriptedServer(loaded, port=port, on_request=_Reporter(record))
    try:
        server.start()
    except (OSError, OverflowError) as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {getattr(exc, 'strerror', None) or exc}") from None
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()  # signals can only be set there
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set()) if in_main else None
    try:
        print(f"scripted server on {server.base_url} (scripted model: answers come from {script})", flush=True)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        server.close()
    return 0


def redacted(request: RecordedRequest) -> dict[str, object]:
    """A request as a JSON-able dict, credentials masked: record files must never hold a key."""
    data = asdict(request)
    data["headers"] = {name: "<redacted>" if name in SECRET_HEADERS else value
                       for name, value in request.headers.items()}
    return data


class _Reporter:
    """Prints one line per finished request to stderr and appends it to the record file, if any."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError as exc:
            raise UserError(f"cannot write record file {path}: {exc.strerror or exc}") from None

    def __call__(self, request: RecordedRequest) -> None:
        seconds = max(request.ended - request.started, 0.0)
        summary = f"{request.role} {request.method} {request.path} {request.status or 'cut'} {seconds:.2f}s"
        with self.lock:
            print(summary, file=sys.stderr, flush=True)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(redacted(request), ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m agent.testing`."""
    parser = argparse.ArgumentParser(prog="python -m agent.testing",
                                     description="Serve a scripted OpenAI-compatible model on 127.0.0.1.")
    parser.add_argument("script", type=Path, help="Script file (JSON or YAML) of turns per role.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port.")
    parser.add_argument("--record", type=Path, default=None, help="Append every request here as JSON lines.")
    args = parser.parse_args(argv)
    try:
        code = serve_command(args.script, port=args.port, record=args.record)
    except AgentError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        code = exc.exit_code
    sys.exit(code)
