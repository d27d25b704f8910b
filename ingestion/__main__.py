"""Command line for ingestion.

    python -m ingestion add PATH... [--data-dir DIR]     index PDF files or folders
    python -m ingestion list [--json]                    indexed reports
    python -m ingestion remove DOC_ID                    delete a report and every trace of it
    python -m ingestion reindex [DOC_ID...]              rebuild from the original files
    python -m ingestion facts [--company X] [--year Y] [--item Z] [--json]
    python -m ingestion tables [--company X] [--year Y] --find WORDS [--json]
    python -m ingestion fewshot --out DIR [--per-doc N] [--llm/--no-llm]

Exit status is non-zero when any file failed; the others are still indexed.
"""

from __future__ import annotations

from backend.errors import command_parser, exit_quietly_on_interrupt, run_cli

if __name__ == "__main__":  # run as a program, not imported: before the slower imports
    exit_quietly_on_interrupt()

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from backend.settings import Settings
from ingestion.facts import cli as facts_cli
from ingestion.fewshot import cli as fewshot_cli
from ingestion.tables import cli as tables_cli

if TYPE_CHECKING:
    from ingestion.pipeline import IngestResult


def _settings(args: argparse.Namespace) -> Settings:
    data_dir = getattr(args, "data_dir", None)
    return Settings.given(
        data_dir=Path(data_dir) if data_dir else None, lock_timeout_s=getattr(args, "wait", None)
    )


def _progress_bar(files: int):
    """One bar over the files; its text shows the current file, stage and embedding progress."""
    from tqdm import tqdm

    bar = tqdm(total=files, unit="file", file=sys.stderr, dynamic_ncols=True)

    def progress(name: str, stage: str, done: int, total: int) -> None:
        if stage in ("done", "failed"):
            bar.update(1)
            return
        detail = f"{stage} {done}/{total}" if total else stage
        bar.set_postfix_str(f"{name[:40]} {detail}", refresh=True)

    return progress, bar.close


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from backend.app.services import build_services
    from ingestion.pipeline import expand_paths

    services = build_services(settings)
    files = expand_paths([Path(p) for p in args.paths])
    if not files:
        print("no PDF files found in " + " ".join(args.paths), file=sys.stderr)
        return 1
    progress, close = (None, lambda: None) if args.json else _progress_bar(len(files))
    try:
        results = services.ingestor.add(files, progress=progress, force=args.force)
    finally:
        close()
    if args.json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=1))
    else:
        for r in results:
            print_result(r)
        failed = sum(r.status == "failed" for r in results)
        print(
            f"{len(results) - failed} of {len(results)} files indexed or unchanged"
            + (f", {failed} failed" if failed else ""),
            file=sys.stderr,
        )
    return 1 if any(r.status == "failed" for r in results) else 0


def print_result(r: IngestResult) -> None:
    """One line per file, then a line per replaced document and per same-name report kept."""
    if r.status == "failed":
        print(f"FAILED    {r.error}")
        return
    year = r.fiscal_year or "?"
    ocr = f" ocr={r.ocr_pages}" if r.ocr_pages else ""
    print(
        f"{r.status:9s} {r.doc_id}  {r.file[:48]:48s} {r.company[:30]} {year} "
        f"{r.report_type}  pages={r.pages}{ocr} chunks={r.chunks} facts={r.facts} "
        f"({r.seconds:.1f}s)"
    )
    for old in r.replaced_files:
        print(f"  replaced   {old} (an earlier version of this report from the same source)")
    for other in r.kept_alongside:
        print(f"  kept       {other} (same name or path, a different report: both are indexed)")


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from backend.store.catalog import Catalog

    docs = Catalog(settings.catalog_path).documents(status=None)
    if args.json:
        print(json.dumps([d.to_dict() for d in docs], ensure_ascii=False, indent=1))
        return 0
    if not docs:
        print("no reports indexed yet: python -m ingestion add PATH...")
        return 0
    print(
        f"{'doc id':16s}  {'file':40s} {'company':32s} {'year':4s} {'type':12s} "
        f"{'pages':>5s} {'chunks':>6s} {'facts':>5s}  status"
    )
    for d in docs:
        facts = str(d.facts) if d.facts else "none"
        status = d.status + (f" ({d.error[:60]})" if d.error else "")
        print(
            f"{d.doc_id:16s}  {d.file_name[:40]:40s} {d.company[:32]:32s} "
            f"{d.fiscal_year or '':4} {d.report_type[:12]:12s} {d.pages:5d} {d.chunks:6d} "
            f"{facts:>5s}  {status}"
        )
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from backend.app.services import build_services

    services = build_services(settings)
    doc = services.ingestor.remove(args.doc_id)
    print(f"removed {doc.doc_id} {doc.file_name}")
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from backend.app.services import build_services

    services = build_services(settings)
    count = len(args.doc_ids) if args.doc_ids else len(services.catalog.documents(status=None))
    progress, close = _progress_bar(count)
    try:
        results = services.ingestor.reindex(args.doc_ids or None, progress=progress)
    finally:
        close()
    for r in results:
        print_result(r)
    return 1 if any(r.status == "failed" for r in results) else 0


def build_parser() -> argparse.ArgumentParser:
    parser, sub = command_parser("python -m ingestion", __doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory (default: setting ANNALYST_DATA_DIR)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress details")

    p = sub.add_parser("add", parents=[common], help="index PDF files or folders")
    p.add_argument("paths", nargs="+", help="PDF files or folders (searched recursively)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("--force", action="store_true", help="re-index even unchanged files")
    p.add_argument(
        "--wait",
        type=float,
        default=None,
        help="seconds to wait if another ingestion is running (default: fail at once)",
    )
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("list", parents=[common], help="list indexed reports")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("remove", parents=[common], help="remove a report")
    p.add_argument("doc_id", help="document id (or a unique prefix) from `list`")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("reindex", parents=[common], help="rebuild reports from their files")
    p.add_argument("doc_ids", nargs="*", help="only these documents (default: all)")
    p.set_defaults(func=cmd_reindex)

    for name, module in (("facts", facts_cli), ("tables", tables_cli), ("fewshot", fewshot_cli)):
        p = sub.add_parser(
            name,
            parents=[common],
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return run_cli(lambda: args.func(args, _settings(args)))


if __name__ == "__main__":
    sys.exit(main())
