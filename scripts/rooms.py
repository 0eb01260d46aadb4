#!/usr/bin/env python3
"""Room sizes (issue 24): no source file over 800 lines and no function over 150 lines.

A file is counted as `wc -l` counts, up to its inline `#[cfg(test)] mod … {` block; files
that are test modules (`tests.rs`, `*_tests.rs`) and everything under `tests/` are aside.
A function is counted from its `fn` line to the closing brace at the same indentation
(rustfmt's layout), outside inline test modules. Prints every room over a limit, and the
largest ones with `--top N`; exits 1 when a limit is broken.
"""
import pathlib
import re
import sys

FILE_LIMIT = 800
FN_LIMIT = 150
FN_RE = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")
TEST_MOD_RE = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{")


def is_test_file(path):
    return path.name == "tests.rs" or path.name.endswith("_tests.rs")


def counted_lines(lines):
    """Lines up to the inline `#[cfg(test)] mod … {` block (the whole file without one)."""
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]":
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if TEST_MOD_RE.match(nxt):
                return i
    return len(lines)


def functions(lines, upto):
    """(name, first line, length) of every function with a body in lines[:upto]."""
    found = []
    for i in range(upto):
        m = FN_RE.match(lines[i])
        if not m:
            continue
        indent = m.group(1)
        # A declaration without a body (trait method) ends in `;` before any `{`.
        j = i
        while j < upto and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
            j += 1
        if j >= upto or "{" not in lines[j]:
            continue
        if lines[j].rstrip().endswith("}") and lines[j].count("{") == lines[j].count("}"):
            found.append((m.group(8), i + 1, j - i + 1))
            continue
        end = j + 1
        while end < upto and lines[end].rstrip("\n") != indent + "}":
            end += 1
        found.append((m.group(8), i + 1, end - i + 1))
    return found


def main():
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 0
    root = pathlib.Path(__file__).resolve().parent.parent
    files, fns = [], []
    for path in sorted((root / "src").rglob("*.rs")):
        if is_test_file(path):
            continue
        lines = path.read_text().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        upto = counted_lines(lines)
        rel = path.relative_to(root)
        files.append((upto, str(rel)))
        for name, line, length in functions(lines, upto):
            fns.append((length, f"{rel}:{line} {name}"))
    files.sort(reverse=True)
    fns.sort(reverse=True)
    bad = [f for f in files if f[0] > FILE_LIMIT] + [f for f in fns if f[0] > FN_LIMIT]
    for n, what in bad:
        print(f"over the limit: {what} {n} lines")
    if top:
        print(f"largest files (limit {FILE_LIMIT}):")
        for n, what in files[:top]:
            print(f"  {n:5} {what}")
        print(f"longest functions (limit {FN_LIMIT}):")
        for n, what in fns[:top]:
            print(f"  {n:5} {what}")
    if bad:
        sys.exit(1)
    print(f"rooms: {len(files)} files, all within {FILE_LIMIT} lines; {len(fns)} functions, all within {FN_LIMIT}")


if __name__ == "__main__":
    main()
