"""[[steps]] kind = "edgetpu": a uint8 export compiled for the Edge TPU (or its predicted mapping without the
compiler)."""

from __future__ import annotations

from dataclasses import dataclass

from .._strategies import parse_calibration
from ._context import StepContext
from ._quantize import export_int8

__all__ = ["EdgetpuStep"]


@dataclass
class EdgetpuStep:
    kind = "edgetpu"
    trains = False
    exports = True

    calib_images: int = 200
    calibration: str = "mse"  # a name of CALIBRATIONS; parsed into ``method`` on construction

    def __post_init__(self) -> None:
        self.method = parse_calibration(self.calibration)  # InputError: load_recipe names the file and step

    def validate(self, recipe, earlier: list[str], where: str) -> None:
        """Nothing needs the recipe: the settings are checked on construction."""

    def run(self, ctx: StepContext) -> dict:
        from .._compile import compile_model
        from .._report import op_total

        run, step = ctx.run, ctx.step
        prev = next((s for s in reversed(ctx.recipe.steps[:ctx.index]) if s.kind == "quantize"), None)
        if prev is not None and step.input is None and run.rows and prev.settings.io == "uint8":
            path = run.tflite[prev.name]  # the quantize step's uint8 model: no second export
        else:
            path, _, _ = export_int8(ctx, self.calib_images, self.method, "uint8")
        rep = compile_model(path, ctx.dir)
        row = ctx.measure(tflite=path)
        pred = rep.predicted or {}
        row["details"] = {"compiled": rep.compiled, "note": rep.note,
                          "predicted_mapped_ops": op_total(pred.get("mapped_ops")),
                          "predicted_cpu_ops": op_total(pred.get("cpu_ops")),
                          "first_unmapped": pred.get("first_unmapped")}
        compiled = sorted(ctx.dir.glob("*_edgetpu.tflite"))
        return {"tflite": str(path), "edgetpu": str(compiled[0]) if compiled else None, "row": row,
                "predicted": pred}
