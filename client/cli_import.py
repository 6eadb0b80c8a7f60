"""`minutebook import`: a records office's bulk load from CSV, XLSX or JSONL, and
`minutebook import --template NAME`, the column templates. The work is in
client/importer.py (plan, waves, batches, resume file, report) and
client/import_templates.py (the templates as data)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .cli_common import EXIT_CODES_HELP, EXIT_FAILED, EXIT_INPUT, EXIT_UNREACHABLE, cli_errors, fail, load_keys, \
    node_option, progress_bar, tz_option
from .import_templates import TEMPLATES

__all__ = ["import_", "COMMANDS"]

SHOWN_PROBLEMS = 10


def _write_template(name: str, output: str | None) -> None:
    import datetime

    from .import_templates import describe_spec, spec_at
    from .tabular import write_csv, write_xlsx

    template = TEMPLATES[name]
    header = list(template.names)
    example = [c.example if c.example is not None else "" for c in template.columns]
    fields = {}
    for spec in template.docs:
        for path, source in spec.fields.items():
            for col in (source if isinstance(source, tuple) else (source,)):
                if isinstance(col, str):
                    fields.setdefault(col, (spec.type, path))
    if output and output.lower().endswith(".xlsx"):
        notes = [("column", "required", "how to write it", "what it is")]
        choices = {}
        for c in template.columns:
            doc_type, path = fields[c.name]
            spec = spec_at(doc_type, path)
            notes.append((c.name, "yes" if c.required else "no", describe_spec(spec, c.kind), c.help))
            if hasattr(spec, "values"):
                choices[c.name] = spec.values
        write_xlsx(output, header, [example], notes=notes, choices=choices)
    else:
        row = [v.strftime("%Y-%m-%d" if not (v.hour or v.minute) else "%Y-%m-%dT%H:%M")
               if isinstance(v, datetime.datetime) else v for v in example]
        if output and output != "-":
            write_csv(output, header, [row])
        else:
            buffer = getattr(sys.stdout, "buffer", None)
            if buffer is None:  # a captured stream in tests
                import io

                raw = io.BytesIO()
                write_csv(raw, header, [row])
                click.echo(raw.getvalue().decode("utf-8"), nl=False)
            else:
                write_csv(buffer, header, [row])
                buffer.flush()
    if output and output != "-":
        click.echo(f"wrote the {name} template to {output}: {len(header)} columns, one example row "
                   f"({template.description})", err=True)


def _infer_template(header: tuple[str, ...], path: str):
    fits = [t for t in TEMPLATES.values()
            if set(header) <= set(t.names) and all(c.name in header for c in t.columns if c.required)]
    if len(fits) == 1:
        return fits[0]
    names = ", ".join(TEMPLATES)
    if not fits:
        raise fail(f"{Path(path).name}: its columns fit no template ({names}); give --template NAME "
                   "(`minutebook import --template NAME` writes one)", EXIT_INPUT)
    raise fail(f"{Path(path).name}: its columns fit the templates {', '.join(t.name for t in fits)}; "
               "give --template NAME", EXIT_INPUT)


@click.command("import", epilog=EXIT_CODES_HELP)
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--template", "-t", "template_name", type=click.Choice(sorted(TEMPLATES)),
              help="The columns of a CSV/XLSX file (guessed from its header when left out). Without FILE: "
                   "write this template (header and an example row) to -o or standard output.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="With --template and no FILE: where to write the template (.csv or .xlsx).")
@click.option("--key", "-k", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="Key file to sign every record with (repeat per signer); a JSONL record's own \"keys\" wins.")
@node_option()
@click.option("--check", is_flag=True, help="Check every row and write the report; send nothing.")
@click.option("--skip-bad", is_flag=True, help="Send the good rows even if some rows have problems.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="The report file (CSV row,column,stage,reason) [default: FILE.report.csv].")
@click.option("--resume", "resume_path", type=click.Path(dir_okay=False),
              help="The resume file [default: FILE.resume].")
@click.option("--created-at", "created_at", metavar="TIME",
              help="created_at of every document (a table's import; fixed in the resume file on the first run).")
@tz_option("Time zone of dates without an offset")
@click.option("--sheet", help="The XLSX sheet to read [default: the first].")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 1000),
              help="Documents per batch request (a node takes at most 1000).")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 32), help="Batches in flight.")
@click.option("--timeout", default=60.0, show_default=True,
              help="Seconds without a block holding more of the documents sent before those not seen are sent "
                   "again.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Processes reading, checking and signing the rows of a long table [default: one per CPU].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@cli_errors
def import_(file: str | None, template_name: str | None, output: str | None, keys: tuple[str, ...], node: str,
            check: bool, skip_bad: bool, report_path: str | None, resume_path: str | None, created_at: str | None,
            tz: str | None, sheet: str | None, batch_size: int, concurrency: int, timeout: float,
            jobs: int | None, quiet: bool) -> None:
    """Bulk-load records from a CSV, XLSX or JSONL file: check every row first, then send.

    \b
    CSV and XLSX: one record per row, columns as a template names them
    (`minutebook import --template members -o members.xlsx` writes one with
    an example row; templates: members, status, profile, resolutions,
    minutes, findings). CSV is UTF-8, with or without BOM, separated by
    commas or semicolons. Dates: 1965-03-02, 2026-09-01T19:00, or an Excel
    date cell. JSONL: one document {type, org, body, refs?, created_at,
    nonce?, keys?} or {"envelope": "<base64url>"} per line.

    Every row is checked before anything is sent (as the ledger checks it,
    and every unit named must exist: --check without --key, or with no node
    reachable, checks the rows alone). A report is written (FILE.report.csv:
    row, column, stage, reason; it never repeats a cell's value, so no
    personal data). If any row has a problem nothing is sent, unless
    --skip-bad.
    Then the documents, signed with --key as they are checked, are sent in
    batches, each seen committed in the node's blocks, with a progress bar. Interrupted, or stopped
    because the node went away, run the same command again: documents are
    built deterministically and FILE.resume lists what is done, so nothing
    is recorded twice.

    Exits 0 when every row is in the ledger, 1 if some rows were skipped or
    refused, 2 if rows have problems (nothing sent), 3 if the node went away
    (run it again).

    \b
    Example:
      minutebook import --template members -o dang-vien.xlsx
      minutebook import dang-vien.xlsx --key keys/secretary.json --node http://127.0.0.1:8101
    """
    if file is None:
        if template_name is None:
            raise click.UsageError("give FILE to import, or --template NAME to write a template")
        _write_template(template_name, output)
        return
    if output:
        raise click.UsageError("-o is for writing a template (--template NAME without FILE)")
    _import_file(file, template_name, keys, node, check, skip_bad, report_path, resume_path, created_at, tz,
                 sheet, batch_size, concurrency, timeout, jobs or os.cpu_count() or 1, quiet)


def _import_file(file, template_name, keys, node, check, skip_bad, report_path, resume_path, created_at, tz, sheet,
                 batch_size, concurrency, timeout, jobs, quiet) -> None:
    from ledger.timefmt import default_zone_name, parse_time, zone

    from . import errors as api_errors
    from .importer import ResumeFile, check_units, plan_table, send_plan, write_report
    from .sdk import Client
    from .tabular import read_table

    path = Path(file)
    table = read_table(path, sheet=sheet)
    template = None
    if table.format != "jsonl":
        template = TEMPLATES[template_name] if template_name else _infer_template(table.header, file)
    elif template_name:
        raise click.UsageError("--template is for CSV and XLSX files; a JSONL line holds its own document")
    zone_name = tz or default_zone_name()
    tzinfo = zone(zone_name)
    report = Path(report_path) if report_path else path.with_name(path.name + ".report.csv")
    resume = ResumeFile.open(Path(resume_path) if resume_path else path.with_name(path.name + ".resume"),
                             source=path.name, template=template.name if template else "jsonl",
                             created_at=parse_time(created_at, "created-at", tz=tzinfo) if created_at else None,
                             tz=zone_name)
    default_keys = load_keys(keys)
    key_cache: dict = {}

    def key_loader(key_path: str):
        if key_path not in key_cache:
            key_cache[key_path] = load_keys((key_path,))[0]
        return key_cache[key_path]

    if not check and not default_keys and template is not None:
        raise fail("--key: give the key file to sign the records with", EXIT_INPUT)
    plan = plan_table(table, template, created_at=resume.created_at, tz=tzinfo, key_loader=key_loader,
                      base=path.parent, done_rows=None if check else resume.done_rows,
                      sign_with=() if check else default_keys, jobs=jobs)
    if not check and not default_keys and any(i.envelope is None and not i.keys for i in plan.items):
        raise fail("--key: give the key file to sign the records with", EXIT_INPUT)
    where = plan.where
    with Client(node, timeout=timeout + 10, retries=20, key=default_keys[0] if default_keys else None) as client:
        try:
            check_units(plan, lambda unit: _unit_exists(client, unit))
        except (api_errors.ConnectionFailed, api_errors.UnauthenticatedError) as exc:
            if not check:
                raise
            why = str(exc) if isinstance(exc, api_errors.ConnectionFailed) else \
                "the node shows units only to a signed request: give --key"
            click.echo(f"note: units not checked ({why})", err=True)
        bad = plan.bad_rows
        write_report(report, plan.problems)
        earlier = f" ({plan.done} documents of earlier runs not read again)" if plan.done else ""
        click.echo(f"checked {plan.rows} {where}s{earlier}: {plan.rows - len(bad)} good, {len(bad)} with problems; "
                   f"report in {report}")
        for p in plan.problems[:SHOWN_PROBLEMS]:
            click.echo(f"  {p.line(where)}", err=True)
        if len(plan.problems) > SHOWN_PROBLEMS:
            click.echo(f"  … and {len(plan.problems) - SHOWN_PROBLEMS} more in {report}", err=True)
        if check:
            if bad:
                raise SystemExit(EXIT_INPUT)
            return
        if bad and not skip_bad:
            raise fail(f"nothing was sent: {len(bad)} {where}s have problems (fix them, or give --skip-bad to "
                       "send the others)", EXIT_INPUT)
        items = plan.without_bad_rows()
        with progress_bar("import", quiet=quiet) as progress:
            task = progress.add_task("import", total=len(items), note="")

            def advance(n: int, result) -> None:
                progress.update(task, advance=n, note=f"{len(result.refused)} refused")

            result = send_plan(client, items, default_keys, resume, batch_size=batch_size, concurrency=concurrency,
                               timeout=timeout, letters=plan.letters, progress=advance)
    write_report(report, plan.problems + result.refused)
    skipped = result.already_committed + result.skipped + plan.done
    click.echo(f"{result.committed} committed, {skipped} already committed (skipped), {len(result.refused)} refused"
               + (f", {len(bad)} {where}s with problems skipped" if bad else "")
               + (f", {result.unsettled} not sent yet" if result.unsettled else ""))
    for p in result.refused[:SHOWN_PROBLEMS]:
        click.echo(f"  {p.line(where)}", err=True)
    if len(result.refused) > SHOWN_PROBLEMS:
        click.echo(f"  … and {len(result.refused) - SHOWN_PROBLEMS} more in {report}", err=True)
    if result.stopped:
        click.echo(f"stopped: {result.stopped}; run the same command again to resume", err=True)
        raise SystemExit(EXIT_UNREACHABLE)
    if result.refused or bad:
        raise SystemExit(EXIT_FAILED)


def _unit_exists(client, unit: str) -> bool:
    from . import errors as api_errors

    try:
        client.org(unit)
    except (api_errors.NotFoundError, api_errors.NotPermittedError):  # none, or none the key may see
        return False
    return True


COMMANDS = [import_]
