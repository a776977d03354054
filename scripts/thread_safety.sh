#!/usr/bin/env bash
# clang's thread-safety analysis over every .cc in src/: each access to a GUARDED_BY member
# without its mutex held, each call of a REQUIRES function without the lock, each lock left
# held or released twice (src/base/thread_annotations.h) is a compile error here. GCC builds
# the binaries and ignores the annotations, so this script is where they are checked.
#
#   scripts/thread_safety.sh           analyse src/ (what CI runs, stage thread-safety)
#   scripts/thread_safety.sh FILE...   analyse only FILE... (a file outside src/, such as the
#                                      tests' probes, gets the base layer's flags)
#
# Each file is compiled with -fsyntax-only (nothing is linked), with the include paths and
# defines of its entry in compile_commands.json from a configure in $VSECRET_TSA_BUILD
# (default build-tsa), two files at a time. The exit status is non-zero if any file fails.
#
# The compiler is clang++-16 (Debian 12 package clang-16, scripts/install-deps.sh). Debian 12's
# clang 14 cannot parse libstdc++ 12's <expected>, which Result<T> uses. clang 16 can: the
# header only hides itself behind __cpp_concepts >= 202002L (the P0848 conditionally trivial
# special members it relies on, which clang implements since version 16 but announces only
# from version 19 on), so the macro is set to the value the header asks for. The analysis thus
# sees the same standard library as the GCC build.
set -euo pipefail
cd "$(dirname "$0")/.."

CXX_TSA="${VSECRET_TSA_CXX:-clang++-16}"
BUILD="${VSECRET_TSA_BUILD:-build-tsa}"
JOBS="${VSECRET_TSA_JOBS:-2}"

if ! command -v "$CXX_TSA" >/dev/null; then
  echo "thread_safety.sh: $CXX_TSA not found (scripts/install-deps.sh installs clang-16)" >&2
  exit 1
fi

# A configure only (no compile): compile_commands.json and the generated schema header.
mkdir -p "$BUILD"
cmake -S . -B "$BUILD" -DVSECRET_BUILD_TESTS=OFF -DVSECRET_BUILD_BENCH=OFF >"$BUILD/configure.log" 2>&1 || {
  cat "$BUILD/configure.log" >&2
  exit 1
}
cmake --build "$BUILD" --target vsecret_schemas >/dev/null

# One response file per source: the compile's -I/-isystem/-D/-std and the analysis flags.
rsp_dir="$BUILD/thread-safety"
rm -rf "$rsp_dir"
mkdir -p "$rsp_dir"
/usr/bin/python3 - "$BUILD/compile_commands.json" "$rsp_dir" "$PWD" "$@" <<'EOF'
import json, os, shlex, sys

commands, rsp_dir, top, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
analysis = ["-fsyntax-only", "-Wthread-safety", "-Wthread-safety-beta", "-Werror",
            "-U__cpp_concepts", "-D__cpp_concepts=202002L", "-Wno-builtin-macro-redefined"]

def flags_of(entry):
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out, i = [], 1
    while i < len(args):
        a = args[i]
        if a in ("-I", "-isystem", "-D", "-include"):
            out += [a, args[i + 1]]
            i += 2
            continue
        if a.startswith(("-I", "-D")):
            out.append(a)
        elif a.startswith("-std="):
            out.append(a.replace("c++23", "c++2b"))  # clang 16's name for it
        i += 1
    return out

entries = json.load(open(commands))
src = os.path.join(top, "src") + os.sep
jobs = []
if extra:
    own = {e["file"]: e for e in entries}
    base = next(e for e in entries if e["file"].startswith(os.path.join(src, "base") + os.sep))
    jobs = [(f, flags_of(own.get(f, base))) for f in map(os.path.abspath, extra)]
else:
    jobs = [(e["file"], flags_of(e)) for e in entries if e["file"].startswith(src)]
for n, (path, flags) in enumerate(sorted(set((p, tuple(f)) for p, f in jobs))):
    with open(os.path.join(rsp_dir, "%04d.rsp" % n), "w") as f:
        f.write(" ".join(shlex.quote(x) for x in list(flags) + analysis + [path]) + "\n")
EOF

count=$(find "$rsp_dir" -name '*.rsp' | wc -l)
echo "thread-safety analysis of $count files ($CXX_TSA, $JOBS at a time)"
# xargs exits 123 when any invocation failed; the compiler's diagnostics name the file.
find "$rsp_dir" -name '*.rsp' -print0 | sort -z |
  xargs -0 -P"$JOBS" -I{} "$CXX_TSA" @{}
