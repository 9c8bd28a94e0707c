#!/usr/bin/env python3
"""Enhance dark images, videos and webcams with RetinexNet. See ``--help``."""

from rtretinex.cli import entry_point

if __name__ == "__main__":
    entry_point()
