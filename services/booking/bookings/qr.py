"""The check-in code as a QR code, drawn by the server so a phone only has to show an image."""

import io

import segno

# Error correction M: up to 15% of the modules may be unreadable (a cracked screen, glare) and the code of
# 32 characters still fits a small symbol (version 3, 29 x 29 modules).
ERROR_CORRECTION = "m"
MODULE_PX = 8
# The quiet zone the QR standard asks for around the symbol, in modules.
QUIET_ZONE = 4


def checkin_qr_svg(code: str) -> bytes:
    """An SVG document (UTF-8, no XML declaration) of `code` as a QR code."""
    qr = segno.make_qr(code, error=ERROR_CORRECTION, boost_error=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=MODULE_PX, border=QUIET_ZONE, xmldecl=False, title="Check-in code")
    return out.getvalue()
