"""Frames per second and ms per chunk of each renderer available here, as JSON."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from lipsync_worker import selection
from lipsync_worker.bench import bench_renderer
from lipsync_worker.contract import BakeSource


def demo_portrait(folder: Path) -> Path:
    from PIL import Image
    from skimage import data

    path = folder / "portrait.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


class Command(BaseCommand):
    help = "Benchmark the lip-sync renderers on the demo portrait (single thread for the CPU one)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seconds", type=float, default=10.0, help="Audio rendered per run.")
        parser.add_argument("--renderer", choices=["cpu", "musetalk", "all"], default="all")
        parser.add_argument("--output", help="Also write the JSON here.")

    def handle(self, *args: Any, **options: Any) -> None:
        kinds = ["cpu", "musetalk"] if options["renderer"] == "all" else [options["renderer"]]
        results: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as tmp:
            source = demo_portrait(Path(tmp))
            for kind in kinds:
                if kind == "musetalk":
                    from lipsync_worker.renderers.musetalk.availability import musetalk_available

                    ok, why = musetalk_available(settings.MUSETALK_MODELS)
                    if not ok:
                        results[kind] = {"measured": False, "reason": why}
                        continue
                renderer = selection.build(kind, settings.MUSETALK_MODELS)
                baked = renderer.bake(BakeSource(path=source, out_dir=Path(tmp) / kind))
                results[kind] = {
                    "measured": True,
                    **bench_renderer(renderer, baked, options["seconds"]),
                }
        text = json.dumps(results, indent=2)
        self.stdout.write(text)
        if options["output"]:
            Path(options["output"]).write_text(text + "\n")
