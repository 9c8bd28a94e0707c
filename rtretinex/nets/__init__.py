"""The nets: RetinexNet's Decom-Net and Enhance-Net (``models``), their weights file
(``weightfile``), the backends that run them (torch, TensorRT, OpenVINO: ``backends``) and
tiled inference for frames too large to run whole (``tiling``)."""
