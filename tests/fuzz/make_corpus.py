#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the test suite's own inputs.

usage: make_corpus.py SOURCE_DIR CORPUS_ROOT

Text targets get tests/data files and the string literals of the matching unit tests (the
inputs the suite already knows are interesting); binary seeds come from fuzz_seeds, which
scripts/fuzz.sh runs separately. Each target's checked-in regression inputs
(tests/fuzz/regressions/TARGET/) are copied in as well, so every run replays them.
"""
import ast
import hashlib
import pathlib
import re
import shutil
import sys

RAW = re.compile(r'R"([^(\s]*)\((.*?)\)\1"', re.S)
PLAIN = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def literals(path):
    """String literals of a C++ file, adjacent plain literals joined, escapes decoded."""
    text = path.read_text(errors="replace")
    out = [m.group(2) for m in RAW.finditer(text)]
    text = RAW.sub('""', text)
    for m in re.finditer(r'(?:"(?:[^"\\\n]|\\.)*"\s*)+', text):
        parts = PLAIN.findall(m.group(0))
        try:
            out.append("".join(ast.literal_eval('"' + p + '"') for p in parts))
        except (ValueError, SyntaxError):
            continue
    return out


def unit_test(src, name):
    """The unit test file NAME, in whichever layer directory of tests/unit it lives (None if absent)."""
    found = sorted((src / "tests/unit").rglob(name))
    return found[0] if found else None


def put(directory, data, prefix=b""):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    data = prefix + data
    name = hashlib.sha1(data).hexdigest()[:16]
    (directory / name).write_bytes(data)


def main():
    src, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    dirs = {}
    for target in ("secret_xml", "base64", "value_codec", "virconf", "rpc_frame",
                   "encryption_xml", "luks_header"):
        dirs[target] = root / target
        dirs[target].mkdir(parents=True, exist_ok=True)

    # Secret XML: every corpus document, once per flags byte (see secret_xml_fuzz.cc).
    for xml in sorted((src / "tests/data/secretxml").rglob("*.xml")):
        for flag in (b"\0", b"\1"):
            put(dirs["secret_xml"], xml.read_bytes(), flag)
    for lit in literals(unit_test(src, "secret_xml_test.cc")):
        if "<secret" in lit:
            put(dirs["secret_xml"], lit, b"\0")

    # Storage XML: the first byte picks <encryption> (0), volume (1) or pool (2).
    for test in ("encryption_xml_test.cc", "volume_interop_test.cc"):
        path = unit_test(src, test)
        if path is None:
            continue
        for lit in literals(path):
            for tag, selector in (("<encryption", b"\0"), ("<volume", b"\1"), ("<pool", b"\2")):
                if tag in lit:
                    put(dirs["encryption_xml"], lit, selector)

    # virConf files: the packaged secret.conf and vsecretd.conf and the unit tests' snippets.
    for conf in ("packaging/secret.conf", "packaging/vsecretd.conf"):
        if (src / conf).exists():
            put(dirs["virconf"], (src / conf).read_bytes())
    for test in ("virconf_test.cc", "secret_conf_test.cc", "daemon_config_test.cc", "encryption_config_test.cc"):
        path = unit_test(src, test)
        if path is not None:
            for lit in literals(path):
                if "=" in lit or "#" in lit or "[" in lit:
                    put(dirs["virconf"], lit)

    # base64: the unit test's vectors plus some value files' worth of text.
    for lit in literals(unit_test(src, "base64_test.cc")):
        put(dirs["base64"], lit)

    for target, directory in dirs.items():
        regressions = src / "tests/fuzz/regressions" / target
        if regressions.is_dir():
            for f in regressions.iterdir():
                if f.is_file():
                    shutil.copy(f, directory / ("regression-" + f.name))
    for target, directory in sorted(dirs.items()):
        print(f"{target}: {sum(1 for _ in directory.iterdir())} seeds")


if __name__ == "__main__":
    main()
