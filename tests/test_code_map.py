"""The README's code map names every module: the next engineer finds a module by its role there,
and a module added without a line in the map fails here (issue 24 found 17 missing)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def code_map() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Code organization")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def named(section: str) -> set[str]:
    """Every path or file name written in backticks (``a.py``, ``dir/``, ``a.py, b.py``)."""
    names: set[str] = set()
    for token in re.findall(r"`([^`]+)`", section):
        for part in re.split(r"[,\s]+", token):
            if part.endswith((".py", "/")):
                names.add(part.rstrip("/"))
    return names


def modules() -> list[Path]:
    found = [*ROOT.glob("inspector/**/*.py"), *ROOT.glob("pages/common/**/*.py")]
    return sorted(
        p.relative_to(ROOT) for p in found if p.name not in ("__init__.py", "__main__.py")
    )


def test_every_module_is_in_the_readme_code_map():
    section = code_map()
    names = named(section)
    items = re.split(r"\n- ", section)  # one bullet per item
    missing = [
        path.as_posix()
        for path in modules()
        if path.as_posix() not in names
        # or its file name in an item that starts from its folder: `inspector/run/a.py`, `b.py`
        and not any(
            f"`{path.name}" in item
            or f" {path.name}" in item
            or f"`{path.parent.as_posix()}/{path.name}" in item
            for item in items
            if f"`{path.parent.as_posix()}/" in item
        )
    ]
    assert not missing, f"modules missing from README's Code organization: {missing}"


def test_the_code_map_names_no_module_that_is_gone():
    section = code_map()
    gone = [
        name
        for name in re.findall(r"`((?:inspector|pages)/[\w/]+\.py)`", section)
        if not (ROOT / name).exists()
    ]
    assert not gone, f"README's Code organization names modules that do not exist: {gone}"
