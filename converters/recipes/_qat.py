"""[[steps]] kind = "qat": quantization-aware training (pruning-preserving on a pruned model)."""

from __future__ import annotations

from dataclasses import dataclass

from ._context import StepContext

__all__ = ["QatStep"]


@dataclass
class QatStep:
    kind = "qat"
    trains = True
    exports = False

    epochs: int = 1
    lr: float = 1e-5

    def validate(self, recipe, earlier: list[str], where: str) -> None:
        pass

    def run(self, ctx: StepContext) -> dict:
        from .._finetune import compile_classifier
        from .._prune import keep_sparsity
        from .._qat import init_ranges, quantization_aware
        from .._training import fit

        run = ctx.run
        model, src = ctx.load_input()
        run.check_classes(model, f"the model of {ctx.step.name}")
        sparse = run.sparse.get(src, False) if src else False
        with run.strategy.scope():
            # on a pruned model tfmot's pruning-preserving scheme (PQAT): the zeros stay zero
            qmodel = quantization_aware(model, preserve_sparsity=sparse)
            compile_classifier(qmodel, self.lr)
        size = run.size(model)
        calib = run.calib(size, 256)
        init_ranges(qmodel, (calib[j:j + 32] for j in range(0, len(calib), 32)))
        tr, va = run.datasets(size)
        res = fit(qmodel, tr, va, epochs=self.epochs, work_dir=ctx.dir / "train", name=f"qat/{ctx.step.name}",
                  save_best=False, callbacks=[keep_sparsity(qmodel)] if sparse else [])
        info = {"epochs_run": res.epochs_run, "seconds_per_epoch": res.seconds_per_epoch, "pqat": sparse,
                "csv": str(res.csv), "png": str(res.png)}
        row = ctx.measure(model=qmodel, info=info)
        return {"model": ctx.save(qmodel), "row": row, "sparse": sparse, "qat": True}
