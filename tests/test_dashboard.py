"""``python -m graphrec.dashboard``: optuna-dashboard on a finished tiny sweep, opened in headless
Chromium as a person would (study listed, then its trials, a screenshot kept), and the user
attributes the sweeper adds for it."""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from graphrec.dashboard import main, storage_url
from graphrec.errors import UsageError
from sweep_helpers import REPO, TINY, load_study, rows_arg, train

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = REPO / "outputs" / "screenshots"  # git-ignored; kept after the test
STUDY = "mf-synthetic-accuracy"


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """3 trials, single objective (so each validation is an intermediate value): two complete,
    one failing after its first step; both loggers, chosen on the sweep's command line."""
    out = tmp_path_factory.mktemp("sweep")
    rows = {"seed0": ["trainer.seed=0"], "seed1": ["trainer.seed=1"],
            "crash": ["trainer.fail_after_steps=1"]}
    train("-m", f"hydra.sweep.dir={out}", "hydra.sweeper.params=null", rows_arg(rows),
          "sweep.objective=accuracy", "trainer.target.value=0.01", "logger=[csv,tensorboard]",
          *TINY, "trainer.epochs=2", cwd=out)
    return out


@contextmanager
def dashboard(target: str):
    """``python -m graphrec.dashboard TARGET`` on a free port; yields its printed address."""
    proc = subprocess.Popen([sys.executable, "-m", "graphrec.dashboard", target], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 1)[0]:
                chunk = os.read(proc.stdout.fileno(), 4096).decode()
                if not chunk:
                    break  # it exited
                out += chunk
                found = re.search(r"http://127\.0\.0\.1:\d+/", out)
                if found:
                    yield found.group(0)
                    return
        raise AssertionError(f"no address printed by graphrec.dashboard:\n{out}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_sweeper_records_status_speed_and_time_to_target_per_trial(sweep_dir):
    trials = load_study(sweep_dir).trials
    done, failed = trials[0].user_attrs, trials[2].user_attrs
    record = json.loads((sweep_dir / "0" / "metrics.json").read_text())
    assert done["status"] == "completed"
    assert done["samples_per_s"] == pytest.approx(record["throughput"]["samples_per_s"])
    assert done["time_to_target_s"] == pytest.approx(record["target"]["time_to_target_s"])
    assert len(trials[0].intermediate_values) == 2  # a validation each epoch
    assert failed["status"] == "error" and "injected failure" in failed["error"]
    assert "samples_per_s" not in failed
    assert (sweep_dir / "0" / "tb").is_dir() and (sweep_dir / "0" / "epochs.csv").is_file()


@pytest.mark.slow
def test_dashboard_api_serves_the_sweep_folder(sweep_dir):
    with dashboard(str(sweep_dir)) as url:
        body = json.load(urllib.request.urlopen(url + "api/studies", timeout=30))
        studies = body.get("study_summaries", body.get("studies"))  # renamed in later versions
        assert [s["study_name"] for s in studies] == [STUDY]
        study = json.load(urllib.request.urlopen(
            f"{url}api/studies/{studies[0]['study_id']}", timeout=30))
        attrs = {a["key"]: a["value"] for a in study["trials"][0]["user_attrs"]}
        assert attrs["status"] == "completed" and "samples_per_s" in attrs


@pytest.mark.slow
@pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")
def test_dashboard_in_a_browser_lists_the_study_and_its_trials(sweep_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with dashboard(str(sweep_dir)) as url:
        # an explicit driver path: Selenium Manager never looks for (or downloads) a browser
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            def page_shows(*texts):
                WebDriverWait(driver, 60).until(  # the single-page app renders after load
                    lambda d: all(t in d.find_element(By.TAG_NAME, "body").text for t in texts))

            driver.get(url)
            page_shows(STUDY)
            driver.save_screenshot(str(SCREENSHOTS / "dashboard_studies.png"))
            driver.find_element(By.XPATH, f"//*[text()='{STUDY}']").click()
            WebDriverWait(driver, 30).until(lambda d: "/studies/" in d.current_url)
            driver.get(driver.current_url.rstrip("/") + "/trials")
            page_shows("Trial 0", "Trial 1", "Trial 2")
            driver.find_element(By.XPATH, "//*[contains(text(), 'Trial 0')]").click()
            page_shows("samples_per_s", "time_to_target_s")  # its speed, beside its values
            driver.save_screenshot(str(SCREENSHOTS / "dashboard_trial_complete.png"))
            driver.find_element(By.XPATH, "//*[contains(text(), 'Trial 2')]").click()
            page_shows("injected failure")  # why it failed, from the `error` user attribute
            shot = SCREENSHOTS / "dashboard_trials.png"
            driver.save_screenshot(str(shot))
        finally:
            driver.quit()
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")  # pytest -s shows it


def test_storage_url_from_folder_file_url_and_newest_sweep(tmp_path):
    with pytest.raises(UsageError, match="study.db"):
        storage_url(str(tmp_path))  # a folder without study.db: no empty database made
    assert not (tmp_path / "study.db").exists()
    assert storage_url("postgresql://u@h/db") == "postgresql://u@h/db"
    for age, name in ((100, "old"), (0, "new")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "study.db").write_bytes(b"")
        os.utime(tmp_path / name / "study.db", (time.time() - age,) * 2)
    assert storage_url(None, root=tmp_path) == f"sqlite:///{tmp_path.resolve()}/new/study.db"
    assert storage_url(str(tmp_path / "old")).endswith("/old/study.db")
    with pytest.raises(UsageError, match="no sweep"):
        storage_url(None, root=tmp_path / "none")


def test_cli_error_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "study.db" in err

