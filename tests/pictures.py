"""Where tests used to import test pictures from: they live in ``support.pictures`` now."""

from support.pictures import b64, decode_frames, encode, gradient, png_b64, psnr, resize  # noqa: F401
