"""The core stays a pure library: importing it loads no web or execution framework."""

import subprocess
import sys

FRAMEWORKS = ("django", "rest_framework", "dask", "distributed")


def test_importing_core_loads_no_framework():
    code = (
        "import sys, importlib, pkgutil, s2render.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 's2render.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(','.join(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.strip().split(","))
    assert "s2render" in loaded
    assert not loaded & set(FRAMEWORKS), f"core loaded {loaded & set(FRAMEWORKS)}"
