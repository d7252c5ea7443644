"""The stopping rules (graphrec/training/stopping.py) on plain numbers: no training."""
import math

from omegaconf import OmegaConf

from graphrec.training.stopping import (Divergence, EarlyStopping, Epochs, Interrupt,
                                        MaxSteps, Pruner, Rules, StopReason, Target,
                                        TimeBudget, combine, reason_of)


def test_reasons_are_the_record_strings_and_set_the_status():
    assert StopReason.EARLY_STOPPING == "early_stopping"
    assert {r.value for r in StopReason} == {"epochs", "max_steps", "time_budget", "target",
                                             "early_stopping", "pruned", "diverged",
                                             "interrupted"}
    assert [r for r in StopReason if r.status != "completed"] == \
        [StopReason.PRUNED, StopReason.DIVERGED, StopReason.INTERRUPTED]
    assert StopReason.PRUNED.status == "pruned" and StopReason.TARGET.status == "completed"
    # an interrupted run resumes: its reason is not kept in Progress.stop_reason
    assert not StopReason.INTERRUPTED.recorded and not StopReason.DIVERGED.recorded
    assert StopReason.PRUNED.recorded and StopReason.TIME_BUDGET.recorded
    assert reason_of("") is None and reason_of("target") is StopReason.TARGET


def test_max_steps_and_epochs():
    assert MaxSteps(0).after_step(10 ** 9) is None
    assert MaxSteps(5).after_step(4) is None
    assert MaxSteps(5).after_step(5) is StopReason.MAX_STEPS
    assert Epochs(3).after_epoch(2) is None
    assert Epochs(3).after_epoch(3) is StopReason.EPOCHS


def test_divergence_on_non_finite_loss():
    rule = Divergence()
    assert rule.after_step(0.69) is None
    for bad in (math.nan, math.inf, -math.inf):
        assert rule.after_step(bad) is StopReason.DIVERGED


def test_interrupt():
    assert Interrupt().after_step(False) is None
    assert Interrupt().after_step(True) is StopReason.INTERRUPTED


def test_time_budget():
    off = TimeBudget(0)
    assert not off and off.after_step(1e9) is None and off.after_validation(1e9) is None
    on = TimeBudget(10.0)
    assert on and not on.spent(9.99) and on.spent(10.0)
    assert on.after_step(9.0) is None and on.after_step(10.5) is StopReason.TIME_BUDGET
    assert on.after_validation(11.0) is StopReason.TIME_BUDGET


def test_target():
    off = Target("recall@20", None, stop=True)
    assert not off.reached({"recall@20": 1.0}) and off.after_validation({"recall@20": 1.0}) is None
    watch = Target("recall@20", 0.1, stop=False)  # recorded, not stopped at
    assert watch.reached({"recall@20": 0.1}) and watch.after_validation({"recall@20": 0.2}) is None
    stop = Target("recall@20", 0.1, stop=True)
    assert stop.after_validation({"recall@20": 0.09}) is None
    assert stop.after_validation({"recall@20": 0.1}) is StopReason.TARGET
    assert stop.after_validation({"recall@20": 0.2}, first=False) is None


def test_early_stopping():
    assert EarlyStopping(0).after_validation(100) is None
    assert EarlyStopping(3).after_validation(2) is None
    assert EarlyStopping(3).after_validation(3) is StopReason.EARLY_STOPPING


def test_pruner_is_asked_every_validation():
    assert Pruner(None).after_validation(1, {}) is None
    calls = []

    def report(n, values):
        calls.append((n, values["wall_s"]))
        return n >= 2

    rule = Pruner(report)
    assert rule.after_validation(1, {"wall_s": 1.0}) is None
    assert rule.after_validation(2, {"wall_s": 2.0}) is StopReason.PRUNED
    assert calls == [(1, 1.0), (2, 2.0)]


def test_combine_keeps_the_first_reason_but_target_and_pruned_replace_it():
    T, P, E, B = (StopReason.TARGET, StopReason.PRUNED, StopReason.EARLY_STOPPING,
                  StopReason.TIME_BUDGET)
    assert combine(None, None) is None and combine(None, E) is E and combine(E, None) is E
    assert combine(T, E) is T and combine(B, E) is B
    assert combine(B, T) is T and combine(T, P) is P and combine(E, P) is P


def _trainer(**kw):
    base = {"max_steps": 0, "epochs": 10, "time_budget_s": 0, "patience": 2,
            "monitor": "recall@20", "stop_at_target": False,
            "target": {"metric": "recall@20", "value": None}}
    return OmegaConf.create({**base, **kw})


def _ask(rules, current=None, n=1, recall=0.05, bad=0, wall=1.0, first=True):
    val = {"recall@20": recall}
    return rules.after_validation(current, n=n, val=val, values={**val, "wall_s": wall},
                                  first_target=first, bad_evals=bad, wall_s=wall)


def test_rules_after_validation_in_order():
    rules = Rules(_trainer())
    assert _ask(rules) is None
    assert _ask(rules, bad=2) is StopReason.EARLY_STOPPING
    budget = Rules(_trainer(time_budget_s=5, patience=0))
    assert _ask(budget, wall=4.9) is None and _ask(budget, wall=5) is StopReason.TIME_BUDGET
    # early stopping wins over the budget; a budget spent mid-epoch stays
    assert _ask(Rules(_trainer(time_budget_s=5)), bad=2, wall=6) is StopReason.EARLY_STOPPING
    assert _ask(rules, current=StopReason.TIME_BUDGET, bad=2) is StopReason.TIME_BUDGET
    target = Rules(_trainer(stop_at_target=True, target={"metric": "recall@20", "value": 0.1},
                            time_budget_s=5))
    assert _ask(target, recall=0.2, bad=2, wall=6) is StopReason.TARGET
    assert _ask(target, current=StopReason.TIME_BUDGET, recall=0.2) is StopReason.TARGET


def test_rules_pruned_wins_and_the_pruner_is_always_called():
    calls = []
    rules = Rules(_trainer(stop_at_target=True, target={"metric": "recall@20", "value": 0.1}),
                  report=lambda n, values: calls.append(n) or True)
    assert _ask(rules, n=3, recall=0.2, bad=5) is StopReason.PRUNED
    assert _ask(rules, n=4, current=StopReason.TIME_BUDGET) is StopReason.PRUNED
    assert calls == [3, 4]
