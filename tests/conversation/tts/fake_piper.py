"""Stand-in for the piper CLI: raw int16 sine at the voice's rate, written slowly in blocks.

Installed by the tests as an executable named `piper` first on PATH. Driven by environment:
FAKE_PIPER_MODE (ok | fail | hang), FAKE_PIPER_BLOCKS (100 ms blocks to write),
FAKE_PIPER_GATE (a file to wait for after the first block), FAKE_PIPER_LOG (argv and stdin).
"""

import json
import math
import os
import sys
import time
from array import array


def main() -> int:
    args = sys.argv[1:]
    if "--output-raw" not in args or "--model" not in args:
        sys.stderr.write("usage: piper --model MODEL --output-raw\n")
        return 2
    model = args[args.index("--model") + 1]
    with open(model + ".json", encoding="utf-8") as config:
        rate = json.load(config)["audio"]["sample_rate"]
    text = sys.stdin.read()
    log = os.environ.get("FAKE_PIPER_LOG")
    if log:
        with open(log, "w", encoding="utf-8") as out:
            json.dump({"argv": sys.argv, "stdin": text, "pid": os.getpid()}, out)
    mode = os.environ.get("FAKE_PIPER_MODE", "ok")
    if mode == "hang":
        time.sleep(600)
    blocks = int(os.environ.get("FAKE_PIPER_BLOCKS", "10"))
    gate = os.environ.get("FAKE_PIPER_GATE")
    size = rate // 10
    for index in range(blocks):
        start = index * size
        tone = array(
            "h", (int(8000 * math.sin(2 * math.pi * 440 * (start + n) / rate)) for n in range(size))
        )
        sys.stdout.buffer.write(tone.tobytes())
        sys.stdout.buffer.flush()
        if mode == "fail":
            # Like a real crash report, it echoes the input: the adapter must not pass it on.
            sys.stderr.write(f"piper: cannot synthesize {text!r}\n")
            return 3
        if index == 0 and gate:
            deadline = time.monotonic() + 60
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            time.sleep(0.005)
    return 0


if __name__ == "__main__":
    sys.exit(main())
