"""[[steps]] kind = "prune": magnitude pruning to a target sparsity while training (tfmot), then stripped."""

from __future__ import annotations

from dataclasses import dataclass

from .._prune import PruneConfig
from ._context import StepContext

__all__ = ["PruneStep"]


@dataclass
class PruneStep(PruneConfig):
    kind = "prune"
    trains = True
    exports = False

    def validate(self, recipe, earlier: list[str], where: str) -> None:
        pass

    def run(self, ctx: StepContext) -> dict:
        from .._finetune import compile_classifier
        from .._prune import apply_pruning, pruning_callbacks, strip
        from .._training import fit

        run = ctx.run
        model, _ = ctx.load_input()
        run.check_classes(model, f"the model pruned by {ctx.step.name}")
        size = run.size(model)
        tr, va = run.datasets(size)
        steps = int(tr.cardinality().numpy())
        with run.strategy.scope():
            pruned, plan = apply_pruning(model, self, steps * self.epochs)
            compile_classifier(pruned, self.lr)
        res = fit(pruned, tr, va, epochs=self.epochs, work_dir=ctx.dir / "train", name=f"prune/{ctx.step.name}",
                  steps_per_epoch=steps, callbacks=pruning_callbacks(), save_best=False)
        stripped = strip(pruned)
        info = {"epochs_run": res.epochs_run, "seconds_per_epoch": res.seconds_per_epoch, "plan": plan,
                "csv": str(res.csv), "png": str(res.png)}
        row = ctx.measure(model=stripped, info=info)
        return {"model": ctx.save(stripped), "row": row, "sparse": True}
