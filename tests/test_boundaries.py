"""The services' boundaries, in the source: no module of one service's package (`services/<a>/`) imports
another service's package (`services.<b>`, b != a), and nothing in `shared/` imports any service. Only
`learncity/` (the runner) and the tests know every service. Every `.py` file is parsed with `ast`, so an
import anywhere counts: at the top, inside a function, under `TYPE_CHECKING`, relative (`from ...booking
import x`), or by name (`importlib.import_module("services.booking.models")`)."""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES_PACKAGE = "services"


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.imported}"


def module_of(relative_path: str) -> tuple[str, bool]:
    """The dotted module name of a file (relative to the repository) and whether it is a package."""
    parts = list(Path(relative_path).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _resolved(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name a `from` import names (`level` dots before `target`)."""
    if level == 0:
        return target or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([target] if target else [])])


def _named_imports(call: ast.Call) -> Iterator[str]:
    """`importlib.import_module("x")`, `import_module("x")` and `__import__("x")` with a literal name."""
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    if name in ("import_module", "__import__") and call.args:
        first = call.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value


def imported_modules(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of everything `source` imports; `from a import b` gives `a.b` too, as
    `b` may be a module."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolved(module, is_package, node.level, node.module)
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}" if base else alias.name
        elif isinstance(node, ast.Call):
            for name in _named_imports(node):
                yield node.lineno, name


def _service_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == SERVICES_PACKAGE else None


def violations(relative_path: str, source: str) -> list[Violation]:
    """The imports of one file (path relative to the repository) that cross a service boundary."""
    module, is_package = module_of(relative_path)
    top = module.split(".")[0]
    if top not in (SERVICES_PACKAGE, "shared"):
        return []
    own = _service_of(module)  # None for shared/ and for modules right under services/
    found = []
    for line, imported in imported_modules(source, module, is_package):
        other = _service_of(imported)
        if other is not None and other != own:
            found.append(Violation(relative_path, line, imported))
    return sorted(set(found), key=lambda v: (v.line, v.imported))


def _sources() -> list[Path]:
    return sorted(path for folder in (SERVICES_PACKAGE, "shared") for path in (ROOT / folder).rglob("*.py"))


def test_the_tree_has_services_to_check() -> None:
    services = {path.relative_to(ROOT).parts[1] for path in _sources() if path.relative_to(ROOT).parts[0] == "services"}
    assert {"orgs", "catalog", "booking", "notify"} <= services


def test_no_service_imports_another_service_and_shared_imports_none() -> None:
    found = [
        violation
        for path in _sources()
        for violation in violations(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
    ]
    assert not found, "imports across service boundaries:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("services/catalog/demo/seed.py", "from services.orgs.models import Person\n"),
        ("services/catalog/demo/seed.py", "import services.orgs.models\n"),
        ("services/catalog/demo/seed.py", "import services.orgs as orgs\n"),
        ("services/catalog/demo/seed.py", "from services import booking\n"),
        ("services/catalog/demo/seed.py", "from ...booking.models import Inventory\n"),
        ("services/catalog/demo/seed.py", "from ... import notify\n"),
        ("services/catalog/__init__.py", "from ..orgs import models\n"),
        ("services/booking/app.py", "def f():\n    from services.catalog.models import Site\n"),
        ("services/booking/app.py", "if TYPE_CHECKING:\n    from services.notify.mailer import Mailer\n"),
        ("services/booking/app.py", "import importlib\nm = importlib.import_module('services.orgs.models')\n"),
        ("shared/db.py", "from services.booking.models import Booking\n"),
        ("shared/events/schemas.py", "import services\nimport services.catalog\n"),
    ],
)
def test_the_check_catches_a_crossing_import(path: str, source: str) -> None:
    assert violations(path, source), f"{path}: {source!r} crosses a boundary"


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("services/catalog/demo/seed.py", "from services.catalog.models import Site\nfrom shared.ids import demo_id\n"),
        ("services/catalog/demo/seed.py", "from ..models import Site\nfrom . import data\n"),
        ("services/booking/demo.py", "from services.booking.inventory.repository import Figures\nimport json\n"),
        ("shared/db.py", "from shared.ids import new_id\nimport sqlalchemy\n"),
        ("learncity/demo.py", "from services.orgs.demo import seed_organizations\nimport services.catalog\n"),
    ],
)
def test_the_check_lets_own_and_shared_imports_be(path: str, source: str) -> None:
    assert violations(path, source) == []


def test_a_relative_import_resolves_to_its_absolute_module() -> None:
    module, is_package = module_of("services/catalog/demo/seed.py")
    assert (module, is_package) == ("services.catalog.demo.seed", False)
    assert _resolved(module, is_package, 1, "data") == "services.catalog.demo.data"
    assert _resolved(module, is_package, 3, "booking.models") == "services.booking.models"
    assert _resolved(*module_of("services/catalog/__init__.py"), 1, "models") == "services.catalog.models"
