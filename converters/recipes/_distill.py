"""[[steps]] kind = "distill": train a student (a built-in architecture or a Keras file) on a teacher's soft labels."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from .._distill import DistillConfig
from ._context import StepContext

__all__ = ["DistillStep"]


def _is_keras_path(s: str) -> bool:
    import os

    return s.endswith((".h5", ".keras", ".hdf5")) or "/" in s or os.sep in s


@dataclass(kw_only=True)
class DistillStep(DistillConfig):
    """DistillConfig plus who teaches whom."""

    kind = "distill"
    trains = True
    exports = False

    teacher: str
    student: str = "mobilenet_v2"
    student_alpha: float = 0.35
    student_weights: str | None = None
    student_size: int | None = None  # a built-in student's input side in px (default: the teacher's)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.student_size is not None and self.student_size < 32:
            raise InputError(f"distill student_size must be at least 32 (px), got {self.student_size}")

    def validate(self, recipe, earlier: list[str], where: str) -> None:
        from .._arch import ARCHITECTURES

        f = recipe.path.name
        t = self.teacher
        if t not in earlier:
            if not _is_keras_path(t):
                raise InputError(f"{f}: {where}: teacher {t!r} is not the output of an earlier step "
                                 f"(earlier steps: {', '.join(earlier) or 'none'}) nor a Keras model file")
            if not recipe.resolve(t).exists():
                raise InputError(f"{f}: {where}: teacher model not found: {recipe.resolve(t)}")
        if self.student not in ARCHITECTURES and not recipe.resolve(self.student).exists():
            raise InputError(f"{f}: {where}: student {self.student!r} is neither a built-in architecture nor "
                             f"an existing model file")

    def run(self, ctx: StepContext) -> dict:
        from .._arch import ARCHITECTURES, build_architecture
        from .._distill import distill
        from .._finetune import replace_head
        from .._load import load_keras

        run, r = ctx.run, ctx.recipe
        n = len(run.data.classes)
        with run.strategy.scope():
            teacher = run.load_model(self.teacher) if self.teacher in run.models else load_keras(r.resolve(self.teacher)).model
            teacher.trainable = False
            run.check_classes(teacher, f"teacher {self.teacher}")
            t_size = run.size(teacher)
            if self.student in ARCHITECTURES:
                size = self.student_size or t_size[0]
                w = self.student_weights if self.student_weights in (None, "imagenet") else r.resolve(self.student_weights)
                built, _ = build_architecture(self.student, alpha=self.student_alpha, input_size=size, classes=n, weights=w)
                student = replace_head(built.model, n, input_size=size)
            else:
                student = load_keras(r.resolve(self.student)).model
                run.check_classes(student, f"student {self.student}")
                size = run.size(student)[0]
            # a student trained from scratch learns its batch norms too; Keras' MobileNet momentum 0.999 leaves the
            # moving statistics near their initial values for the first thousand steps (validation at chance level)
            for layer in student.layers:
                layer.trainable = True
                if type(layer).__name__ == "BatchNormalization" and self.student in ARCHITECTURES:
                    layer.momentum = min(layer.momentum, 0.9)
        student, info = distill(student, teacher, run.data, (size, size), run.spec, self, ctx.dir / "train",
                                batch_size=r.data.batch_size, seed=r.data.seed, strategy=run.strategy,
                                teacher_size=t_size)
        row = ctx.measure(model=student, info=info)
        return {"model": ctx.save(student), "row": row, "sparse": False}
