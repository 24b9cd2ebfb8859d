"""`canvasmar serve`: a local web page that predicts videos with a checkpoint (docs/serve.md)."""

from __future__ import annotations

import argparse

from canvasmar.cli.common import add_compile_flag, add_sampling_flags, sampling_pipeline
from canvasmar.errors import UserError


def _serve(args: argparse.Namespace) -> None:
    try:  # the optional extra: a clear line, not an ImportError, when it is missing
        from canvasmar.web.app import bind, create_app, make_server
    except ImportError as exc:
        raise UserError(f"canvasmar serve needs the 'serve' extra ({exc.name} is missing): "
                        f"pip install 'canvasmar[serve]' (or run 'make setup')") from None
    sock = bind(args.host, args.port)  # first: a busy port fails before the model loads
    try:
        server = make_server(create_app(sampling_pipeline(args)))
    except BaseException:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {args.checkpoint} at http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    # uvicorn stops cleanly on Ctrl-C, then raises KeyboardInterrupt again: main prints
    # `on_interrupt` and exits with 130, as every command does
    server.run(sockets=[sock])


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `serve` on the main parser's subparsers."""
    p = sub.add_parser("serve", parents=[common], help="a local web page to predict videos",
                       description="Serve a page where you pick a built-in clip or upload a "
                                   "video, set the sampling settings and watch the prediction "
                                   "arrive frame by frame beside the canvas and staticness "
                                   "maps; the MP4 can be downloaded. The sampling flags set "
                                   "the page's defaults.")
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint folder")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--device", default="auto",
                   help="auto (a GPU if torch sees one, else the CPU), cpu, cuda or cuda:N")
    add_compile_flag(p)
    p.add_argument("--no-ema", action="store_true",
                   help="use the raw weights, not the EMA ones (the default if saved)")
    p.add_argument("overrides", nargs="*",
                   help="sample.KEY=VALUE defaults for the page, e.g. sample.flow_steps=10")
    add_sampling_flags(p)
    p.set_defaults(func=_serve, on_interrupt="stopped")
