"""``statuspage evidence import FILE --source LABEL``: bring measurements made elsewhere.

All or nothing: a bad line stops the import with its line number and field, and nothing is
written. Exit status 0 on success, 1 on a refused file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["register"]

#: A larger file is refused before reading (2 million lines of ~300 bytes fit well below).
MAX_FILE_BYTES = 1024 * 1024 * 1024


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``evidence`` subcommands."""
    parser = sub.add_parser("evidence", help="deadline evidence")
    esub = parser.add_subparsers(dest="evidence_command", required=True)
    imp = esub.add_parser("import", help="import probe results (JSON Lines, probe-agent format)")
    imp.add_argument("file", type=Path, help="JSON Lines file, one probe result per line")
    imp.add_argument("--source", required=True,
                     help="label shown with these measurements, e.g. 'agency-monitor-2024'")
    common(imp)
    imp.set_defaults(handler=_import)


def _import(args: argparse.Namespace) -> int:
    from statuspage.cli import settings_from_args
    from statuspage.db import Database, prepare_database
    from statuspage.models import utcnow
    from statuspage.store.evidence_import import (
        EvidenceImportError,
        check_label,
        import_results,
        parse_lines,
    )

    settings = settings_from_args(args)
    try:
        source = check_label(args.source)
        size = args.file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise EvidenceImportError(f"{args.file}: larger than {MAX_FILE_BYTES} bytes")
        with args.file.open("rb") as fh:
            results = parse_lines(fh, settings.config, utcnow())
    except OSError as exc:
        print(f"statuspage evidence import: {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    except EvidenceImportError as exc:
        print(f"statuspage evidence import: {args.file}: {exc}; nothing imported",
              file=sys.stderr)
        return 1
    prepare_database(settings)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            summary = import_results(session, settings.config, results, source)
    except EvidenceImportError as exc:
        print(f"statuspage evidence import: {exc}; nothing imported", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"imported {summary.count} results from {args.file} as {summary.source!r} "
          f"({summary.first.isoformat() if summary.first else '-'} .. "
          f"{summary.last.isoformat() if summary.last else '-'})")
    return 0
