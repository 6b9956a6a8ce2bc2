"""[[steps]] kind = "finetune": a new classification head for the data's classes, trained frozen then unfrozen."""

from __future__ import annotations

from dataclasses import dataclass

from .._finetune import FinetuneConfig
from ._context import StepContext

__all__ = ["FinetuneStep"]


@dataclass
class FinetuneStep(FinetuneConfig):
    """FinetuneConfig plus the new head's dropout."""

    kind = "finetune"
    trains = True
    exports = False

    dropout: float = 0.2

    def validate(self, recipe, earlier: list[str], where: str) -> None:
        pass

    def run(self, ctx: StepContext) -> dict:
        from .._finetune import finetune, replace_head

        run = ctx.run
        model, src = ctx.load_input()
        size = ctx.recipe.model.input_size or run.size(model)[0]
        with run.strategy.scope():
            model = replace_head(model, len(run.data.classes), input_size=size, dropout=self.dropout)
        tr, va = run.datasets((size, size))
        model, info = finetune(model, tr, va, self, ctx.dir / "train", strategy=run.strategy)
        row = ctx.measure(model=model, info=info)
        return {"model": ctx.save(model), "row": row, "sparse": run.sparse.get(src, False) if src else False}
