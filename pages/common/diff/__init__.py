"""The Model diff page's tabs: structure (:mod:`.structure`), both graphs (:mod:`.graphs`) and
a run of both models (:mod:`.run`), each drawing the records of ``inspector.model.diff`` and
``inspector.run.analyses.diff`` that ``onnx-inspector diff`` prints."""
