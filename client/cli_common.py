"""What the `minutebook` commands share: exit codes, one-line errors, reading
documents and keys.

Exit codes (every command)::

    0  success
    1  the operation was refused or a check failed (document rejected by the
       node, not found, audit found a problem)
    2  bad input on this side: a usage error, a missing or unreadable file,
       bad YAML/JSON, a document that breaks a rule
    3  the node could not be reached, had no leader, or timed out: try again

Errors print as one line on stderr, ``error: <what is wrong>``, never a stack
trace (set ``MINUTEBOOK_DEBUG=1`` to get one).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Callable

import click

from ledger.errors import InvalidInput, KeyFileError, MinutebookError

from . import errors as api_errors

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_INPUT", "EXIT_UNREACHABLE", "EXIT_CODES_HELP", "cli_errors", "fail",
           "describe_api_error", "read_document_file", "load_document_file", "load_document_text",
           "parse_document_text", "document_values", "load_keys", "node_option", "tz_option", "key_option",
           "request_key", "echo_json", "progress_bar"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_UNREACHABLE = 3

EXIT_CODES_HELP = (
    "\b\nExit codes: 0 ok; 1 refused or a check failed; 2 bad input (usage, file, YAML/JSON, document);"
    "\n3 node unreachable, no leader or timed out (try again)."
)

DEFAULT_NODE = os.environ.get("MINUTEBOOK_NODE", "http://127.0.0.1:8101")


class CommandFailed(click.ClickException):
    """One line on stderr and a chosen exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def fail(message: str, exit_code: int = EXIT_FAILED) -> CommandFailed:
    return CommandFailed(message, exit_code)


def describe_api_error(exc: api_errors.ApiError) -> tuple[str, int]:
    """One line for what the node answered, and the exit code it means."""
    field = f" [{exc.field}]" if exc.field and exc.field not in exc.message else ""
    if isinstance(exc, (api_errors.UnavailableError, api_errors.TimeoutError_, api_errors.ForwardFailedError)):
        return f"{exc.message}{field} (HTTP {exc.status})", EXIT_UNREACHABLE
    if isinstance(exc, (api_errors.MalformedRequest, api_errors.TooLargeError)):
        return f"the node refused the request: {exc.message}{field} (HTTP {exc.status})", EXIT_INPUT
    if isinstance(exc, api_errors.UnauthenticatedError):
        return (f"this needs your key: give --key KEY_FILE or set $MINUTEBOOK_KEY (HTTP {exc.status} {exc.code})",
                EXIT_FAILED)
    return f"{exc.message}{field} (HTTP {exc.status} {exc.code})", EXIT_FAILED


def cli_errors(fn: Callable) -> Callable:
    """Turn every error we expect into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except api_errors.ConnectionFailed as exc:
            raise fail(f"{exc} (is the node running? check --node)", EXIT_UNREACHABLE) from None
        except api_errors.ApiError as exc:
            message, code = describe_api_error(exc)
            raise fail(message, code) from None
        except (InvalidInput, KeyFileError) as exc:
            raise fail(exc.message, EXIT_INPUT) from None
        except MinutebookError as exc:
            raise fail(exc.message, EXIT_FAILED) from None
        except OSError as exc:
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            raise fail(f"{exc.strerror or exc}{':' if where else ''}{where}", EXIT_INPUT) from None
        except Exception as exc:  # a bug: still one line, trace on demand
            if os.environ.get("MINUTEBOOK_DEBUG"):
                raise
            raise fail(f"unexpected {type(exc).__name__}: {exc} (set MINUTEBOOK_DEBUG=1 for the trace)",
                       EXIT_FAILED) from None

    return wrapper


def node_option(multiple: bool = False) -> Callable:
    if multiple:
        return click.option("--node", "nodes", multiple=True, metavar="URL",
                            help="Node API URL; repeat for each node to check and compare.")
    help_text = "Node API URL [default: $MINUTEBOOK_NODE or http://127.0.0.1:8101]"
    return click.option("--node", "node", default=DEFAULT_NODE, show_default=False, metavar="URL", help=help_text)


def tz_option(help_text: str = "IANA time zone for times written without an offset") -> Callable:
    """``--tz ZONE``: the display zone, for times typed without an offset (and for output);
    a name that is no IANA zone is a usage error."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        from ledger.timefmt import zone

        try:
            zone(value)
        except InvalidInput as exc:
            raise click.BadParameter(exc.rule) from None
        return value

    return click.option("--tz", "tz", default=None, envvar="MINUTEBOOK_TZ", metavar="ZONE", callback=check,
                        help=f"{help_text} [default: $MINUTEBOOK_TZ or Asia/Ho_Chi_Minh].")


def key_option() -> Callable:
    """``--key``: the key file that signs the requests (RFC 9421; content routes need one)."""
    return click.option("--key", "-k", "key_path", envvar="MINUTEBOOK_KEY", type=click.Path(dir_okay=False),
                        metavar="KEY_FILE",
                        help="Your key file (member or node) to sign the request with [default: $MINUTEBOOK_KEY]. "
                             "Content is answered only to a signed request, within your scope.")


def request_key(path: str | None) -> Any:
    """The KeyFile at `path` (prompting for a passphrase if it is encrypted), or None."""
    return load_keys((path,))[0] if path else None


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def progress_bar(label: str, *, quiet: bool = False) -> Any:
    """The commands' progress bar, on stderr so stdout stays for results: label,
    bar, done/total, a free ``note`` field (``add_task(..., note="")``), time left."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                    TimeRemainingColumn(), console=Console(stderr=True), disable=quiet)


def parse_document_text(text: str, name: str, tz: str | None = None, *, amended_type: str | None = None) -> dict:
    """A document from YAML or JSON text, its times read as client/docinput.py
    says (ISO 8601 or unix ms; without an offset, in the zone `tz`)."""
    from .docinput import normalise_document

    return normalise_document(load_document_text(text, name), tz, amended_type=amended_type)


def load_document_text(text: str, name: str) -> dict:
    """A document from YAML or JSON text (JSON is YAML, but its errors read
    better), as loaded: YAML dates and datetimes are still objects."""
    stripped = text.lstrip()
    if name.endswith(".json") or stripped.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise fail(f"{name} is not valid JSON: {exc}", EXIT_INPUT) from None
    else:
        import yaml

        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise fail(f"{name} is not valid YAML{where}: {problem}", EXIT_INPUT) from None
    if not isinstance(obj, dict):
        raise fail(f"{name}: expected a document (a mapping with type, org and body), got {type(obj).__name__}",
                   EXIT_INPUT)
    return _yaml_to_canonical(obj, "")


def _yaml_to_canonical(value: Any, path: str) -> Any:
    """YAML gives floats, which the ledger does not take: name the field.
    (Its dates and datetimes are read by client/docinput.py.)"""
    if isinstance(value, dict):
        return {str(k): _yaml_to_canonical(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_to_canonical(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise InvalidInput(path, f"floats are not allowed, got {value} (use an integer)")
    return value


def document_values(obj: dict) -> dict:
    """A document read from JSON with its values made canonical where the ledger cannot take
    them as they are (InvalidInput naming the field); its times are left to client/docinput.py."""
    return _yaml_to_canonical(obj, "")


def read_document_file(path: str, tz: str | None = None, *, amended_type: str | None = None) -> dict:
    """The document in a YAML or JSON file (see :func:`parse_document_text`)."""
    from .docinput import normalise_document

    return normalise_document(load_document_file(path), tz, amended_type=amended_type)


def load_document_file(path: str) -> dict:
    """The document in a YAML or JSON file, as loaded (see :func:`load_document_text`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(f"no such document file: {path}", EXIT_INPUT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read document file {path}: {exc}", EXIT_INPUT) from None
    return load_document_text(text, p.name)


def load_keys(paths: tuple[str, ...], passphrase: str | None = None) -> list:
    """KeyFile objects; a missing or unreadable key file is one clear line (exit 2)."""
    from ledger.keys import read_key_file

    keys = []
    for path in paths:
        if not Path(path).exists():
            raise fail(f"no such key file: {path}", EXIT_INPUT)
        try:
            keys.append(read_key_file(path, passphrase))
        except KeyFileError as exc:
            if passphrase is None and "passphrase" in exc.message.lower():
                pw = click.prompt(f"passphrase for {path}", hide_input=True, default="", show_default=False)
                try:
                    keys.append(read_key_file(path, pw))
                    continue
                except KeyFileError as exc2:
                    raise fail(f"key file {path}: {exc2.message}", EXIT_INPUT) from None
            raise fail(f"key file {path}: {exc.message}", EXIT_INPUT) from None
    return keys
