"""beam_setup.py builds the sdist remote workers install: every worker module, no torch."""
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from pipeline.runner import WORKER_PACKAGES


def worker_modules() -> set[str]:
    return {
        str(p.relative_to(ROOT))
        for package in WORKER_PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "__pycache__" not in p.parts
    }


def test_sdist_holds_every_worker_module_and_installs(tmp_path):
    # The documented command, exactly as a user runs it from the repository root.
    out = subprocess.run([sys.executable, "beam_setup.py", "sdist", "--dist-dir", str(tmp_path / "dist")],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    sdist = Path(out.strip().splitlines()[-1])
    assert sdist.exists() and sdist.name.startswith("llama_data_worker-")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if name.endswith(".py")}
    missing = worker_modules() - names
    assert not missing, f"modules missing from the worker sdist: {sorted(missing)}"
    assert not any(n.startswith(("model/", "training_entry/")) for n in names), "trainer code must not ship to workers"

    # Install it (dependencies come from this venv) and import every module from the
    # installed copy, not from the source tree.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(sdist)], check=True)
    modules = sorted(m[:-3].replace("/", ".").removesuffix(".__init__") for m in worker_modules()
                     if not m.endswith("__main__.py"))
    script = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    mod = importlib.import_module(m)\n"
        f"    assert mod.__file__.startswith({str(target)!r}), (m, mod.__file__)\n"
        "print('imported', len(sys.argv))\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True,
                   env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
