"""Errors in one home (graphrec/errors.py): every user-fixable problem is a GraphrecError, and
every command prints it as ``error: <one line>`` on stderr and exits 2 (issue 22.6). A
mandatory key left ``???`` is named with an example, and schema nodes are no options
(issue 23.5)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf

import graphrec.config
import graphrec.data
from graphrec.config import ClcrecData, MovielensData, require_values, validate
from graphrec.errors import (ConfigError, DataError, GraphrecError, UsageError, command,
                             one_line, run_main)

from conftest import CONF, ROOT, make_cfg

CPU = torch.device("cpu")


def _one_error_line(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and all(w in err for w in words), err
    return err


# ----------------------------------------------------------------------------- one home
def test_errors_have_one_home():
    assert graphrec.data.DataError is DataError and graphrec.config.ConfigError is ConfigError
    assert not (ROOT / "graphrec" / "data" / "errors.py").exists()
    for cls in (ConfigError, DataError, UsageError):
        assert issubclass(cls, GraphrecError)
    assert issubclass(ConfigError, ValueError) and issubclass(DataError, ValueError)


def test_run_main_prints_one_line_and_returns_2(capsys):
    def bad(argv):
        raise DataError("x.npy: row 3: first line\n  second line")

    assert run_main(bad, []) == 2
    assert _one_error_line(capsys) == "error: x.npy: row 3: first line; second line\n"
    assert command(lambda argv: 0)([]) == 0 and run_main(lambda argv: [1, 2]) == 0
    assert one_line(ValueError()) == "ValueError"


def test_a_bug_keeps_its_traceback():
    def bug(argv):
        raise KeyError("not the user's")

    with pytest.raises(KeyError):
        run_main(bug, [])


# ----------------------------------------------------------------------------- ??? keys
@pytest.mark.parametrize("overrides,words", [
    (["data=clcrec"], ["data.path is required (data=clcrec)", "e.g. data.path=Data/movielens"]),
    (["data=movielens"], ["data.path is required (data=movielens)",
                          "e.g. data.path=dataset/ml-100k"]),
    (["+experiment=recbole_bpr_ml100k"], ["data.path is required", "data.path=dataset/"]),
    (["model.lr=???"], ["model.lr is required", "e.g. model.lr=VALUE"]),
    (["data=clcrec", "model.dim=???"], ["data.path is required", "; model.dim is required"]),
    (["sweep.label=${oc.env:GRAPHREC_UNSET_VAR}"], ["sweep.label does not resolve",
                                                    "GRAPHREC_UNSET_VAR"]),
])
def test_every_missing_value_is_one_line_with_an_example(overrides, words):
    cfg = make_cfg(overrides, tiny=False)
    with pytest.raises(ConfigError) as exc:
        validate(cfg)
    assert "\n" not in str(exc.value) and all(w in str(exc.value) for w in words)


def test_a_data_node_alone_is_checked_with_its_prefix():
    with pytest.raises(ConfigError, match=r"^data\.path is required \(data=movielens\)"):
        require_values(OmegaConf.structured(MovielensData), prefix="data.")
    require_values(OmegaConf.merge(OmegaConf.structured(ClcrecData), {"path": "x"}), "data.")


# ----------------------------------------------------------------------------- schemas
def test_schema_nodes_are_neither_offered_nor_selectable():
    options = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
    for typo in ("lightgnc", "mf_schema"):
        with pytest.raises(MissingConfigException) as exc:
            make_cfg([f"model={typo}"])
        assert sorted(exc.value.options) == options  # only the YAML options, no schema
    with pytest.raises(Exception, match="Key 'schema' not in 'Config'"):
        make_cfg(["+schema/model=mf"])
    assert "schema" not in make_cfg([])  # the schemas shape the config, not a key of it


# ----------------------------------------------------------------------------- library
def _interactions(**change):
    from graphrec.data import Interactions, csr_from_pairs

    users, items = np.array([0, 0, 1, 2]), np.array([0, 1, 2, 0])
    indptr, indices = csr_from_pairs(users, items, 3)
    warm = np.array([True, True, True, False])
    parts = dict(n_users=3, n_items=4, train_indptr=indptr, train_indices=indices,
                 val_indptr=indptr, val_indices=indices, test_indptr=indptr,
                 test_indices=indices, warm_mask=warm, name="toy")
    return Interactions(**{**parts, **change})


@pytest.mark.parametrize("change,match", [
    (dict(val_indptr=np.zeros(2, dtype=np.int64)), "val pairs: CSR rows do not match 3 users"),
    (dict(test_indices=np.array([0, 1, 2, 9])), r"test pairs: item id out of range 0\.\.3"),
    (dict(warm_mask=np.ones(3, dtype=bool)), r"warm_mask has shape \(3,\), expected \(4,\)"),
    (dict(warm_mask=np.array([True, False, True, False])), "a cold item appears in training"),
    (dict(features={"v": np.zeros((2, 4), np.float32)}), "feature v: 2 rows for 4 items"),
])
def test_bad_interactions_are_data_errors(change, match):
    _interactions().check()
    with pytest.raises(DataError, match=r"^data 'toy'[,:] .*" + match):
        _interactions(**change).check()


def test_library_entry_points_raise_config_errors():
    from graphrec.data.splits import write_split
    from graphrec.evaluation.ranking import evaluate
    from graphrec.models import build_model
    from graphrec.models.base import init_table
    from graphrec.models.features import FeatureInput
    from graphrec.models.mmgcn import MMGCN, graph_adjacency
    from graphrec.sampling.fast import DeviceSampler

    data = _interactions()
    cases = [
        (lambda: build_model(OmegaConf.create({"name": "nope"}), data, "lean"),
         "model.name='nope' is invalid"),
        (lambda: init_table(4, 2, "zeros"), "model.init='zeros' is invalid"),
        (lambda: FeatureInput().set_features({}, "VBPR"),
         "model.name='vbpr' needs item features.*data.features=synthetic"),
        (lambda: graph_adjacency(3, 4, np.array([0]), np.array([0]), "max"),
         "model.aggr='max' is invalid"),
        (lambda: MMGCN(3, 4, {}, np.array([0]), np.array([0])),
         "model.name='mmgcn' needs item features"),
        (lambda: graphrec.data.load_data(OmegaConf.create({"kind": "parquet"})),
         "data.kind='parquet' is invalid"),
        (lambda: evaluate(lambda u: torch.zeros(len(u), 4), data, "val", exclude="all"),
         "evaluation.exclude='all' is invalid"),
        (lambda: DeviceSampler(data, 1, 2**30, CPU, 0), r"batch.size=1073741824 is invalid "
         r"with loader=fast.*lower batch.size or sampling.num_neg"),
        (lambda: DeviceSampler(data, 1, 2**30, CPU, 0, replacement=False),
         "or sampling.replacement=true"),
    ]
    for call, match in cases:
        with pytest.raises(ConfigError, match=match):
            call()
    with pytest.raises(UsageError, match="--format='xml' is invalid"):
        write_split(data, "unused", fmt="xml")


# ----------------------------------------------------------------------------- commands
def test_export_split_errors_exit_2(tmp_path, capsys):
    from graphrec.data.export_split import main

    assert main(["--out", str(tmp_path / "o")]) == 2
    _one_error_line(capsys, "data.path is required", "e.g. data.path=")
    assert main(["--out", str(tmp_path / "o"), "data.path=x", "data.colour=red"]) == 2
    _one_error_line(capsys, "data.colour", "conf/data/movielens.yaml")
    assert main(["--out", str(tmp_path / "o"), f"data.path={tmp_path / 'none'}"]) == 2
    _one_error_line(capsys, "none")


def test_download_errors_exit_2(tmp_path, capsys):
    from graphrec.data.download import main

    gone = (tmp_path / "gone.zip").as_uri()
    assert main(["ml-100k", "--cache-dir", str(tmp_path / "c"), "--url", gone,
                 "--sha256", "0" * 64]) == 2
    _one_error_line(capsys, "gone.zip: cannot fetch it", "--url")
    blocker = tmp_path / "file"
    blocker.write_text("")  # a cache folder below a file cannot be made
    assert main(["ml-100k", "--cache-dir", str(blocker / "c")]) == 2
    _one_error_line(capsys, "--cache-dir=", "a folder you can write to")
    (tmp_path / "c2" / "downloads").mkdir(parents=True)
    (tmp_path / "c2" / "downloads" / "ml-100k.zip").write_text("not a zip")
    assert main(["ml-100k", "--cache-dir", str(tmp_path / "c2")]) == 2
    _one_error_line(capsys, "ml-100k.zip: not a zip archive; delete it")


def test_compare_errors_exit_2(tmp_path, capsys):
    from graphrec.reporting.compare import main

    (tmp_path / "empty").mkdir()
    for flag in ("--suggest-target", "--table=models"):
        assert run_main(main, [str(tmp_path / "empty"), flag, "--out", str(tmp_path)]) == 2
        _one_error_line(capsys, "no ", "runs under")


def test_dashboard_port_in_use_exits_2(tmp_path, capsys, monkeypatch):
    pytest.importorskip("optuna_dashboard")
    import optuna

    from graphrec import dashboard

    db = tmp_path / "study.db"
    optuna.create_study(study_name="s", storage=f"sqlite:///{db}")
    capsys.readouterr()  # optuna's own log line
    with socket.socket() as taken:
        taken.bind((dashboard.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert dashboard.main([str(tmp_path), "--port", str(port)]) == 2
    _one_error_line(capsys, f"--port={port} is invalid", "a free port")


def test_bench_config_errors_exit_2(tmp_path, capsys):
    from graphrec import bench

    for data, words in (("nope", ["does not compose", "data/nope"]),
                        ("clcrec", ["data.path is required"])):
        with pytest.raises(SystemExit) as stop:
            bench.main(["sampler", "--data", data, "--out", str(tmp_path)])
        assert stop.value.code == 2
        _one_error_line(capsys, *words)


@pytest.mark.slow
def test_train_without_data_path_is_one_line_exit_2_and_error_txt(tmp_path):
    """``python train.py data=clcrec``: the newcomer's first mistake on real data."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    run_dir = tmp_path / "run"
    res = subprocess.run([sys.executable, "train.py", "data=clcrec", f"hydra.run.dir={run_dir}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr == ("error: data.path is required (data=clcrec): the folder of CLCRec's "
                          ".npy files, e.g. data.path=Data/movielens\n")
    assert "data.path is required" in (run_dir / "error.txt").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("override, words", [("modle=mf", "Did you mean: 'model'"),
                                             ("model=mff", "Could not find 'model/mff'")])
def test_train_config_typos_exit_2_with_hydras_hint(override, words):
    """A key or option Hydra cannot compose is the user's mistake: exit 2, not a bug's 1."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    res = subprocess.run([sys.executable, "train.py", override], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env=env)
    assert res.returncode == 2, res.stderr[-2000:]
    assert words in res.stderr and "Traceback" not in res.stderr


_PROBE_LOOP = """
import sys
from graphrec.config import unwritable_reason
for _ in range(300):
    reason = unwritable_reason(sys.argv[1])
    if reason is not None:
        sys.exit(reason)
"""


def test_two_processes_probe_one_folder_at_once(tmp_path):
    # DDP ranks check one run folder together; a shared probe name let one rank delete the
    # other's probe first, and a clean CI run failed on "No such file or directory".
    procs = [subprocess.Popen([sys.executable, "-c", _PROBE_LOOP, str(tmp_path)], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    assert not list(tmp_path.iterdir())  # every probe removed


def test_cache_dir_off_probes_nothing(tmp_path, monkeypatch):
    # data.cache_dir='' means no cache: no folder is made or probed (it used to probe the cwd)
    probed = []
    from graphrec.training import loop
    monkeypatch.setattr(loop, "require_writable",
                        lambda p, key: probed.append(key) or None)
    monkeypatch.setattr(loop, "_train", lambda *a, **k: {})
    cfg = make_cfg(["data=synthetic_seed", "data.cache_dir="])
    loop.train(cfg, out_dir=str(tmp_path))
    assert "data.cache_dir" not in probed and "hydra.run.dir" in probed
