"""The ``indrnn`` command: the app and the library's command-line tools under one name.

::

    indrnn app [--models DIR ...] [--port N] [--host H]
    indrnn train RECIPE [...]          (python -m indrnn.train)
    indrnn evaluate models/NAME        (python -m indrnn.evaluate)
    indrnn explain models/NAME         (python -m indrnn.explain)
    indrnn convert --from KIND SRC OUT (python -m indrnn.convert)
    indrnn export-hub models/NAME OUT/ (python -m indrnn.hub)

Each subcommand is the module's own ``main``, so ``indrnn SUB --help`` and
``python -m indrnn.SUB --help`` say the same. Installed by ``pip install .`` as a console script.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

from indrnn import catalog, registry, runtime
from indrnn.assets import app_dir

#: subcommand -> (module whose ``main(argv)`` runs it, one line of help)
TOOLS: dict[str, tuple[str, str]] = {
    "train": ("indrnn.train", "train a model from a recipe (resumable, with progress)"),
    "evaluate": ("indrnn.evaluate", "recompute a checkpoint's test metrics from its card"),
    "explain": ("indrnn.explain", "find what a model's neurons do; --write stores it in the card"),
    "convert": ("indrnn.convert", "convert another implementation's weights to a checkpoint"),
    "export-hub": ("indrnn.hub", "write a checkpoint as a Hugging Face hub folder"),
}


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indrnn app", description="Start the IndRNN Inspector on the pretrained models and "
        "every checkpoint in the folders given (also read from $" + catalog.EXTRA_MODELS_ENV +
        ", separated by '" + os.pathsep + "').")
    parser.add_argument("--models", metavar="DIR", nargs="+", action="extend", default=[],
                        help="folders of checkpoints (NAME.json + NAME.safetensors, or hub "
                             "folders) to list beside the pretrained models")
    parser.add_argument("--architecture", metavar="NAME=module:Class", nargs="+",
                        action="extend", default=[],
                        help="register your own model class (importable here, a SequenceModel "
                             "subclass for the app's views) so that checkpoints naming NAME load")
    parser.add_argument("--port", type=int, default=8501, help="default: 8501")
    parser.add_argument("--host", default="localhost",
                        help="address to serve on (default: localhost; 0.0.0.0 for every one)")
    return parser


def app_command(folders: list[str], port: int, host: str, architectures: list[str] = (),
                ) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start the app listing ``folders`` too, with
    ``architectures`` (``NAME=module:Class``) registered.

    Folders are made absolute (the app runs in its own folder, where its settings are) and
    joined to any already in the environment; so are the architectures, and the current folder
    is put on the app's import path for them.
    """
    env = dict(os.environ)
    if env.get(runtime.OPT_OUT_ENV, "1") != "0":
        env.update({k: v for k, v in runtime.ENVIRONMENT.items() if k not in env})
    if architectures:
        env[registry.ARCHITECTURES_ENV] = ",".join(
            filter(None, [env.get(registry.ARCHITECTURES_ENV, ""), *architectures]))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(),
                                                          env.get("PYTHONPATH", "")]))
    given = [p for p in env.get(catalog.EXTRA_MODELS_ENV, "").split(os.pathsep) if p]
    env[catalog.EXTRA_MODELS_ENV] = os.pathsep.join(
        [*given, *(str(Path(f).expanduser().resolve()) for f in folders)])
    command = [sys.executable, "-m", "streamlit", "run", str(app_dir() / "app.py"),
               "--server.port", str(port), "--server.address", host]
    return command, env


def run_app(argv: list[str]) -> int:
    """``indrnn app``: report what cannot be listed, then serve the app until interrupted."""
    args = _app_parser().parse_args(argv)
    command, env = app_command(args.models, args.port, args.host, args.architecture)
    previous = {key: os.environ.get(key) for key in (catalog.EXTRA_MODELS_ENV,
                                                     registry.ARCHITECTURES_ENV)}
    os.environ.update({key: env[key] for key in previous if key in env})
    try:
        listed, problems = catalog.models(), catalog.problems()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    for problem in problems:
        print(f"indrnn app: not listed: {problem}", file=sys.stderr)
    print(f"indrnn app: {len(listed)} models; serving on http://{args.host}:{args.port}",
          file=sys.stderr)
    if os.name == "posix":
        # Become the server, so a signal to `indrnn app` (a supervisor's SIGTERM) reaches
        # Streamlit instead of orphaning it.
        sys.stderr.flush()
        os.chdir(app_dir())
        os.execve(command[0], command, env)
    try:
        return subprocess.call(command, env=env, cwd=app_dir())
    except KeyboardInterrupt:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indrnn", description="IndRNNs you can look inside: the app and the tools.",
        epilog="Run 'indrnn COMMAND --help' for a command's options.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("app", help="start the app (Streamlit) on the models", add_help=False)
    for name, (_, line) in TOOLS.items():
        commands.add_parser(name, help=line, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``indrnn COMMAND ...``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        _parser().print_help()
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "app":
        return run_app(rest)
    if command not in TOOLS:
        _parser().parse_args(argv)  # prints the choices and exits with 2
    module = importlib.import_module(TOOLS[command][0])
    previous = sys.argv[0]
    sys.argv[0] = f"indrnn {command}"  # argparse's prog for modules that do not set one
    try:
        status = module.main(rest)
    finally:
        sys.argv[0] = previous
    return int(status or 0)


if __name__ == "__main__":
    raise SystemExit(main())
