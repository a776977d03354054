"""Makes the test helper package (tests/vstest) importable from a benchmark started by hand:
`import vstest_path` first (Python finds this module beside the script), then `from vstest
import ...`. With PYTHONPATH=<source>/tests already set (as ctest sets it) this changes nothing."""
import os
import sys

TESTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
