"""PNG uploads for the pixel models: 28 x 28 (checked from the IHDR chunk before Pillow decodes
anything), converted to 8-bit grayscale, read row by row as pixel / 255."""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np
import torch

from indrnn import limits
from indrnn.data.base import TaskInfo
from indrnn.data.uploads.common import (
    PNG_MAGIC,
    ParsedInput,
    UploadError,
    check_size,
    expects,
    is_pixels,
)
from indrnn.data.uploads.values import finish


def parse_png(data: bytes, info: TaskInfo) -> ParsedInput:
    """Parse a PNG upload for a pixel model: 28 x 28, read row by row as pixel / 255.

    Parameters
    ----------
    data : bytes
        The file's content.
    info : TaskInfo
        A pixel task (one channel ``"pixel"``).

    Returns
    -------
    ParsedInput
        float32 ``inputs (1, 784, 1)`` in [0, 1], as :func:`indrnn.data.pixels.images_to_sequences`.

    Raises
    ------
    UploadError
        Not a PNG, corrupt, or not 28 x 28 (checked from the header before decoding).
    """
    check_size(data)
    side = limits.IMAGE_SIDE
    if not is_pixels(info):
        raise UploadError(f"PNG images are for the pixel models; the {info.name} model reads "
                          f"sequences of {expects(info)}")
    if not data.startswith(PNG_MAGIC) or len(data) < 33 or data[12:16] != b"IHDR":
        raise UploadError("not a PNG / corrupt: no PNG signature and IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    if (width, height) != (side, side):
        raise _size_error(width, height)
    from PIL import Image  # Pillow: a dependency of the app only

    notes: list[str] = []
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != (side, side):
                raise _size_error(*image.size)
            if getattr(image, "n_frames", 1) > 1:
                notes.append("animated PNG: the first frame is read")
            image.load()
            pixels = _grayscale(image, notes)
    except UploadError:
        raise
    except Exception as error:  # Pillow raises many types on corrupt data
        raise UploadError(f"not a PNG / corrupt ({type(error).__name__}: {error})") from None
    if np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).mean() > 0.5:
        notes.append("bright border: the digits and clothes the models saw are light on a "
                      "dark background; invert it if the prediction looks wrong")
    x = pixels.reshape(1, side * side, 1).astype(np.float64)
    return finish(x, info, "png", f"PNG {side}x{side}, row-major, pixel / 255", notes,
                  lambda i, s, c: f"pixel ({s // side}, {s % side})")


def _size_error(width: int, height: int) -> UploadError:
    side = limits.IMAGE_SIDE
    return UploadError(f"PNG is {width}x{height}; the model reads {side}x{side} grayscale images")


def _grayscale(image: Any, notes: list[str]) -> np.ndarray:
    """float32 pixels in [0, 1] of a Pillow image, as ``uint8 / 255`` for 8-bit images."""
    from PIL import Image

    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L"):
        notes.append("16-bit grayscale scaled to [0, 1] (value / 65535)")
        return (np.asarray(image, np.float64) / 65535.0).clip(0, 1).astype(np.float32)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        notes.append("transparent pixels composited on black")
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(black, image.convert("RGBA"))
    if image.mode != "L":
        if mode != "1":
            notes.append(f"{mode} image converted to grayscale (Pillow's convert('L'))")
        image = image.convert("L")
    return (torch.from_numpy(np.asarray(image, np.uint8).copy()).float() / 255.0).numpy()

