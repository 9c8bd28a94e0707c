"""The frame core: the ``enhancer`` (settings, state, the executor chosen once), the two
steps of a frame written once for both executors (``steps``), the decisions taken on small
arrays (``decisions``), and the stages whose state lives across frames: the temporal
denoiser's motion test (``denoise``), the black level and night corrections (``night``),
scene cuts and auto-exposure (``exposure``) and the nets' schedule (``schedule``)."""
