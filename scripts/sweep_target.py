#!/usr/bin/env python3
"""Delete superseded executables from a cargo target directory's `<profile>/deps`.

Every change to a crate relinks its test and bench binaries under a new hash
(`<name>-<16 hex digits>`), and cargo never deletes the old ones: on the CI machine they
reached 39 GiB of `release/deps` (2026-12-01) and filled the disk. Of each name, the newest
file is the one the last build made; the older ones are what this removes, with their `.d`
files. Libraries (`.rlib`, `.rmeta`, `.so`) are left alone: several versions of one crate
are often all in use. A removed binary that is needed again is relinked by the next build.

Usage: sweep_target.py TARGET_DIR [--dry-run]; prints what it removed (or would remove).
"""

import os
import re
import sys
from collections import defaultdict

HASHED = re.compile(r"^(?P<name>.+)-(?P<hash>[0-9a-f]{16})$")


def superseded(deps_dir):
    """Paths of every hashed executable in deps_dir that a newer one of its name replaced."""
    by_name = defaultdict(list)
    for entry in os.scandir(deps_dir):
        m = HASHED.match(entry.name)
        if m and entry.is_file(follow_symlinks=False):
            by_name[m.group("name")].append((entry.stat().st_mtime, entry.path))
    old = []
    for files in by_name.values():
        files.sort(reverse=True)
        old.extend(path for _, path in files[1:])
    return sorted(old)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    target, dry_run = argv[1], "--dry-run" in argv[2:]
    freed = 0
    count = 0
    for profile in sorted(os.listdir(target)) if os.path.isdir(target) else []:
        deps = os.path.join(target, profile, "deps")
        if not os.path.isdir(deps):
            continue
        for path in superseded(deps):
            freed += os.path.getsize(path)
            count += 1
            if not dry_run:
                os.remove(path)
                if os.path.exists(path + ".d"):
                    os.remove(path + ".d")
    verb = "would remove" if dry_run else "removed"
    print(f"{verb} {count} superseded executables, {freed / 2**30:.1f} GiB, under {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
