"""The README documents every environment variable the configuration reads (and the admin page and index commands
it promises exist)."""

from __future__ import annotations

import re

from service.cli import parser
from service.config import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_variable_the_configuration_reads_is_in_the_readme():
    source = (PROJECT_ROOT / "service" / "config.py").read_text(encoding="utf-8")
    variables = set(re.findall(r'"((?:BQA|SLACK)_[A-Z0-9_]+)"', source))
    assert variables and not {v for v in variables if f"`{v}`" not in README and v not in README}


def test_every_index_option_is_in_the_readme():
    index = parser()._subparsers._group_actions[0].choices["index"]
    options = {o for action in index._actions for o in action.option_strings if o.startswith("--")} - {"--help"}
    assert options and not {o for o in options if o not in README}
