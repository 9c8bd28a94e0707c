"""The per-pixel work of a frame: pixel formats and resampling (``formats``), each formula
stated once (``reference``), and the two executors that run them: the host's NumPy/OpenCV
passes with fused numba loops (``host``, ``loops``) and torch on the CPU or a GPU
(``torch_ops``)."""
