"""Read PNG / JPEG images as float64 arrays in [0, 1] (Pillow).

* grayscale (``1``, ``L``, ``LA``, ``I;16``, ``I``) -> H x W;
* colour (``RGB``, ``RGBA``, ``P``, ``CMYK``, ``YCbCr``, ...) -> 3 x H x W, RGB, alpha dropped
  (channel-first, as the image losses and torch expect);
* 8-bit values are divided by 255, 16-bit (``I;16*``, and ``I`` as older Pillow opens 16-bit
  PNGs) by 65535; a bilevel (``1``) image gives 0 and 1.

Pixels are returned as stored: no EXIF orientation is applied (as ``numpy.asarray(Image.open(p))``
and torchvision's ``decode_image`` by default).  Only the first frame of an animation is read.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from losscli.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG

_GRAY_8 = {"L"}
_GRAY_16 = {"I;16", "I;16L", "I;16B", "I;16N"}


def read_image(path: str | bytes, *, name: str | None = None) -> np.ndarray:
    """The image at ``path`` (or in the bytes given) as float64 in [0, 1]: H x W (grayscale) or 3 x H x W (colour).

    Raises :class:`InputError` (one line, naming the file as ``name``, else ``path``) when the file is
    missing, is not an image Pillow can decode, or is larger than Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``): such an image is refused, with no warning printed.
    """
    from PIL import Image, UnidentifiedImageError

    source = name or (path if isinstance(path, str) else "<image>")
    if isinstance(path, str) and not os.path.isfile(path):
        raise InputError("no such image file", source=source)
    try:
        with warnings.catch_warnings():
            # Pillow warns (on stderr) above MAX_IMAGE_PIXELS and raises above twice that: refuse both
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(path) if isinstance(path, bytes) else path) as im:
                im.load()
                return _to_array(im, source)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError("not an image Pillow can read (expected PNG or JPEG)", source=source) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        limit = Image.MAX_IMAGE_PIXELS
        raise InputError(
            f"refused: the image has more pixels than Pillow's decompression-bomb limit ({limit:,})", source=source
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot decode the image ({reason})", source=source) from None


def _to_array(im: object, path: str) -> np.ndarray:
    mode = im.mode  # type: ignore[attr-defined]
    if mode == "1":
        return np.asarray(im, dtype=np.float64)  # bool pixels -> 0.0 / 1.0
    if mode in ("LA", "La"):
        mode, im = "L", im.getchannel(0)  # type: ignore[attr-defined]
    if mode in _GRAY_8:
        return np.asarray(im, dtype=np.uint8).astype(np.float64) / 255.0
    if mode in _GRAY_16 or mode == "I":
        a = np.asarray(im).astype(np.float64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise InputError(f"{mode} image has values outside 0..65535; expected a 16-bit image", source=path)
        return a / 65535.0
    if mode == "F":
        raise InputError("floating-point images are not supported; expected an 8- or 16-bit PNG/JPEG", source=path)
    rgb = im if mode == "RGB" else im.convert("RGB")  # type: ignore[attr-defined]
    a = np.asarray(rgb, dtype=np.uint8).astype(np.float64) / 255.0  # H x W x 3
    return np.ascontiguousarray(np.moveaxis(a, -1, 0))
