"""ONNX Inspector: inspect ONNX models and compare them across ONNX Runtime configurations.

Typical use (also what the app and the CLI call)::

    from inspector import load_model, build_overview, diagnose
    model = load_model("model.onnx")          # companions: the model's folder
    print(build_overview(model).counts)
    for finding in diagnose(model).findings:
        print(finding.severity, finding.message)
"""

from inspector.errors import InspectorError, InternalError
from inspector.limits import DEFAULT_LIMITS, Limits
from inspector.model import *  # noqa: F403
from inspector.model import __all__ as _model_all

__version__ = "0.1.0"
__all__ = ["DEFAULT_LIMITS", "InspectorError", "InternalError", "Limits", *_model_all]
