"""Run a piece of the app in a child process with a capped address space, and measure it.

A request that would hang or eat memory cannot take the test run (or the machine) with it:
the child gets `headroom` bytes of address space above what it uses once warmed up, and a
generous timeout ends a hang. The child reports how its request went and how much its peak
resident memory (VmHWM, reset when the measured part starts) grew while it ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024

_RUNNER = """
import gc, json, resource, sys, traceback

def _status(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no " + field)

namespace = {}
exec(compile(sys.stdin.read(), "<capped>", "exec"), namespace)
state = namespace["setup"]()
gc.collect()
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # start the peak (VmHWM) afresh from here
base_rss = _status("VmRSS")
limit = _status("VmSize") + HEADROOM
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
outcome = {}
try:
    outcome["result"] = namespace["measured"](state)
except MemoryError:
    outcome["error"] = "MemoryError"
except BaseException as error:
    outcome["error"] = "".join(traceback.format_exception_only(error))[-2000:]
peak = _status("VmHWM")
outcome["growth"] = max(0, peak - base_rss)
sys.stdout.write("\\n@@capped@@" + json.dumps(outcome, default=str))
"""


def run_capped(script: str, *, headroom: int = 64 * MIB, timeout: float = 120.0) -> dict:
    """Run script's setup() uncapped, then measured(state) capped; return what happened.

    Returns {"result": measured's JSON-able return value} or {"error": text} ("MemoryError"
    when the cap was hit; "timeout" when it did not finish), and "growth": how many bytes the
    peak resident memory grew during measured().
    """
    runner = _RUNNER.replace("HEADROOM", str(headroom))
    try:
        finished = subprocess.run(
            [sys.executable, "-c", runner],
            input=textwrap.dedent(script),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"error": "timeout", "growth": None}
    _, marker, report = finished.stdout.rpartition("@@capped@@")
    if not marker:
        return {"error": f"the child failed: {finished.stderr[-3000:]}", "growth": None}
    return json.loads(report)
