"""[[steps]] kind = "quantize": full-integer export of the model so far (calibrated on training images)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from .._strategies import Calibration, MinMax, parse_calibration
from ._context import StepContext

__all__ = ["QuantizeStep", "export_int8"]


def export_int8(ctx: StepContext, calib_images: int, calibration: Calibration, io: str):
    """(int8 .tflite path, ConvertResult, source step) of the step's input model (MinMax ranges after QAT)."""
    from .._load import LoadedModel
    from .._quantize import convert_tflite

    run = ctx.run
    model, src = ctx.load_input()
    run.check_classes(model, f"the model exported by {ctx.step.name}")
    size = run.size(model)
    is_qat = run.qat.get(src, False) if src else False
    calib = run.calib(size, calib_images)
    res = convert_tflite(LoadedModel(model, "tf_keras", src or "base"), "int8", calib=calib, io=io,
                         calibration=MinMax() if is_qat else calibration)
    path = ctx.dir / "model_int8.tflite"
    path.write_bytes(res.tflite)
    return path, res, src


@dataclass
class QuantizeStep:
    kind = "quantize"
    trains = False
    exports = True

    calib_images: int = 200
    calibration: str = "mse"  # a name of CALIBRATIONS; parsed into ``method`` on construction
    io: str = "float"

    def __post_init__(self) -> None:
        self.method = parse_calibration(self.calibration)  # InputError: load_recipe names the file and step

    def validate(self, recipe, earlier: list[str], where: str) -> None:
        if self.io not in ("float", "int8", "uint8"):
            raise InputError(f"{recipe.path.name}: {where}: io must be float, int8 or uint8, got {self.io!r}")

    def run(self, ctx: StepContext) -> dict:
        path, res, src = export_int8(ctx, self.calib_images, self.method, self.io)
        row = ctx.measure(tflite=Path(path))
        row["details"] = {"calibration": res.calibration, "calib_images": res.calib_images, "from": src}
        return {"tflite": str(path), "row": row, "sparse": ctx.run.sparse.get(src, False) if src else False}
