"""The limits: one place in the code, shown in the README, the server config and the uploader.
"""

from __future__ import annotations

import re

from hostile import (
    APP,
    ROOT,
    app_errors,
)
from streamlit.testing.v1 import AppTest

from indrnn import limits

# --- 5. limits: one place, shown in the app and the README ------------------------------------

def test_readme_lists_every_limit_as_the_code_sets_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert limits.markdown_table() in readme
    for what, value in limits.describe():
        assert what and value
    assert f"{limits.MAX_STEPS:,}" in limits.markdown_table()
    assert f"{limits.MAX_UPLOAD_BYTES // 2**20} MiB" in limits.markdown_table()
    assert f"{limits.MAX_CHANNELS}" in limits.markdown_table()


def test_server_upload_cap_is_the_checkpoint_limit():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    section = config.split("[server]")[1].split("\n[")[0]
    found = re.search(r"^maxUploadSize\s*=\s*(\d+)\s*$", section, re.MULTILINE)
    assert found and int(found[1]) == limits.MAX_CHECKPOINT_UPLOAD_BYTES >> 20
    assert limits.MAX_CHECKPOINT_UPLOAD_BYTES >= limits.MAX_UPLOAD_BYTES


def test_the_sequence_uploader_shows_and_enforces_the_limits():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = "adding100_indrnn"
    at.run()
    at.radio(key="input_source").set_value("Upload a file").run()
    uploader = at.file_uploader(key="sequence_upload")
    assert uploader.proto.max_upload_size_mb == limits.MAX_UPLOAD_BYTES >> 20
    help_text = uploader.proto.help
    for what, value in limits.describe():
        if what not in ("checkpoint upload", "gradient through time"):
            assert f"{what}: {value}" in help_text, (what, help_text)
    uploader.set_value(("big.csv", b"0.5,0\n" * 2_000_000, "text/csv")).run()
    assert not at.exception
    assert "2,000,000 lines" in app_errors(at), app_errors(at)
