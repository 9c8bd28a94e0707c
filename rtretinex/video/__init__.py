"""Video in and out: decoded frames (``frames``), inputs (``sources``: files, pipes, network
streams, webcams), outputs (``sinks``: files and network streams; ``display``: a window;
``vcam``: a virtual camera) and the threads that join them (``pipeline``)."""
