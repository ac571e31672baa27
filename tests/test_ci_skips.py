"""tests/conftest.py: under CI=true a skip for anything but a GPU fails."""

from pathlib import Path

CONFTEST = (Path(__file__).with_name("conftest.py")).read_text(encoding="utf-8")

TESTS = '''
import pytest

def test_fine():
    pass

def test_needs_data():
    pytest.skip("Fashion-MNIST IDX files absent")

@pytest.mark.skipif(True, reason="needs a CUDA GPU")
def test_needs_gpu():
    pass

@pytest.mark.xfail(reason="a known failure stays expected")
def test_known():
    raise AssertionError
'''


def test_under_ci_only_a_missing_gpu_may_skip(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_things=TESTS,
                        test_module_skip="import pytest\npytest.importorskip('no_such_pkg_x')\n")
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "no:cacheprovider", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1, errors=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true (Fashion-MNIST IDX files absent)*"])
    monkeypatch.delenv("CI")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
