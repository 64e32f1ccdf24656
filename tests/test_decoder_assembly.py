"""The decoder page is one document: decoder.js with inspect.js and every module it imports
inlined (each once, each before the code that uses it), no import left for a CSP that allows
none, and no name declared twice in the one script they become."""

from __future__ import annotations

import re

from tessera.web import asset, decoder_page
from tessera.web.assets import inline_imports

MODULES = ("inspect-text.js", "inspect-times.js", "inspect-dpop.js", "inspect.js")
DECLARATION = re.compile(r"^(?:export )?(?:async )?(?:const|let|function|class) (\w+)", re.M)


def test_every_module_is_inlined_once_before_its_users() -> None:
    script = inline_imports(asset("decoder.js").decode())
    assert not re.search(r"^\s*import\b", script, re.M)
    starts = []
    for name in MODULES:
        source = asset(name).decode()
        first_line = next(line for line in source.splitlines() if line.startswith("export"))
        assert script.count(first_line) == 1, name
        starts.append(script.index(first_line))
    assert starts == sorted(starts)  # text, times, dpop, inspect: dependencies first


def test_no_name_is_declared_twice_in_the_one_script() -> None:
    names = [name for module in MODULES for name in DECLARATION.findall(asset(module).decode())]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_page_holds_the_script_its_csp_allows() -> None:
    html, csp = decoder_page()
    assert b"import {" not in html
    assert "connect-src 'none'" in csp and "script-src 'sha256-" in csp
