"""What training needs besides the nets: LOL-format image pairs and the low-light simulator
(``data``), and the paper's losses (``losses``); the loop itself is ``rtretinex.train``."""
