#!/usr/bin/env python3
"""Enhance dark images, videos and webcams with RetinexNet. See ``--help``."""

import sys

from rtretinex.cli import main

if __name__ == "__main__":
    sys.exit(main())
