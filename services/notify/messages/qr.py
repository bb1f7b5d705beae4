"""Check-in codes as QR images, for the mail's inline picture."""

import io

import segno


def qr_png(code: str) -> bytes:
    """A 1-bit PNG a phone reads off a screen or paper: 8 px modules and the standard 4-module quiet zone,
    error correction M at least (segno raises it when the version has room)."""
    image = io.BytesIO()
    segno.make(code, error="m", micro=False).save(image, kind="png", scale=8, border=4)
    return image.getvalue()
