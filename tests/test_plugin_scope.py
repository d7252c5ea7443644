"""graphrec's Hydra plugin is imported by every Hydra app in the environment: it must leave
other apps alone (no resolvers, no sweeper option, no sweeps group)."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

APP = textwrap.dedent("""
    import json
    import hydra
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    @hydra.main(config_path="conf", config_name="config", version_base=None)
    def main(cfg):
        repo = ConfigStore.instance().repo
        print(json.dumps({
            "resolvers": [r for r in ("sweep_directions", "choice_upto_cores")
                          if OmegaConf.has_resolver(r)],
            "sweepers": sorted(repo.get("hydra", {}).get("sweeper", {})),
            "sweeps": "sweeps" in repo, "x": cfg.x}))

    main()
""")


@pytest.mark.slow
def test_a_foreign_hydra_app_sees_nothing_of_graphrec(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text("x: 1\n")
    (tmp_path / "app.py").write_text(APP)
    out = subprocess.run([sys.executable, "app.py", "hydra.run.dir=."], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["x"] == 1
    assert seen["resolvers"] == []
    assert "graphrec.yaml" not in seen["sweepers"]
    assert seen["sweeps"] is False


@pytest.mark.slow
def test_graphrec_app_still_has_its_sweeper_and_sweeps():
    from hydra import compose, initialize_config_dir
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        cfg = compose("config", overrides=["+sweeps=seed_guide"], return_hydra_config=True)
    assert OmegaConf.has_resolver("sweep_directions")
    assert "graphrec.yaml" in ConfigStore.instance().repo["hydra"]["sweeper"]
    assert cfg.sweep.objective == "time_to_target"
