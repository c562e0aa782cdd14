#!/usr/bin/env python3
"""Every event chatd logs is in docs/LOGGING.md, and every name follows its scheme."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
logged = set()
for src in (root / "daemon").glob("*.cpp"):
    logged |= set(re.findall(r'"event=([A-Za-z0-9_.-]+)', src.read_text()))
doc = (root / "docs" / "LOGGING.md").read_text()
documented = set(re.findall(r"`([a-z0-9-]+)`", doc))
problems = []
for name in sorted(logged):
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
        problems.append(f"event={name}: not lowercase words joined by '-'")
    if name not in documented:
        problems.append(f"event={name}: logged by daemon/ but not in docs/LOGGING.md")
if len(logged) < 20:
    problems.append(f"only {len(logged)} events found: is the source scan broken?")
for p in problems:
    print(p)
print(f"{len(logged)} events checked")
sys.exit(1 if problems else 0)
