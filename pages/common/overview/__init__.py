"""The Overview page's sections: the model's records (:mod:`.sections`) and ONNX Runtime's load
check, which waits in the run queue (:mod:`.check`)."""
