"""Entry point: ``python train.py [overrides]`` for one run, ``python train.py -m`` to sweep.

Returns the sweep objective(s) so the Optuna sweeper can read them."""
import hydra
from hydra.core.hydra_config import HydraConfig

import graphrec.config  # noqa: F401  (registers the schemas in Hydra's ConfigStore)
from graphrec.training import train


def objective(cfg, metrics: dict):
    recall = metrics["val"][f"recall@{max(cfg.trainer.ks) if 20 not in cfg.trainer.ks else 20}"]
    speed = metrics["throughput"]["samples_per_s"]
    return {"both": (speed, recall), "accuracy": recall, "throughput": speed}[cfg.sweep.objective]


@hydra.main(config_path="conf", config_name="config")
def main(cfg):
    out_dir = HydraConfig.get().runtime.output_dir
    metrics = train(cfg, out_dir=out_dir)
    print(f"val  {metrics['val']}\ntest {metrics['test']}")
    print(f"{metrics['throughput']['samples_per_s']:,.0f} samples/s | run folder: {out_dir}")
    return objective(cfg, metrics)


if __name__ == "__main__":
    main()
