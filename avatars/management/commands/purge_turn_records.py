"""Delete turn records older than the retention period (TURN_RECORD_RETENTION_DAYS by default)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from avatars import services


class Command(BaseCommand):
    help = "Delete turn records older than N days (default: TURN_RECORD_RETENTION_DAYS)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days instead of TURN_RECORD_RETENTION_DAYS.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.TURN_RECORD_RETENTION_DAYS if options["days"] is None else options["days"]
        if days <= 0:
            if options["days"] is not None:
                raise CommandError("--days must be 1 or more.")
            self.stdout.write("TURN_RECORD_RETENTION_DAYS is 0: turn records are kept.")
            return
        deleted = services.turn_records_purge(older_than_days=days)
        self.stdout.write(f"{deleted} turn records older than {days} days deleted.")
