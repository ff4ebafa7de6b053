"""The visible e-meterai stamp: QR code to the verification page, words and serial."""

from __future__ import annotations

import qrcode
import qrcode.constants
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.qr import PdfStreamQRImage
from pyhanko.pdf_utils.writer import init_xobject_dictionary
from pyhanko.stamp import QRPosition, QRStampStyle
from pyhanko.stamp.qr import QRStamp

__all__ = ["STAMP_TEXT", "MeteraiStampStyle", "add_link", "meterai_style"]

STAMP_TEXT = "METERAI ELEKTRONIK\n10000\n%(serial)s"


class _FixedMaskQRStamp(QRStamp):
    """pyHanko's QR stamp with a fixed QR mask pattern.

    ``qrcode`` otherwise renders all eight masks to pick the best-scoring one, which was a
    quarter of the whole stamping time; any mask is valid for scanners (the chosen one is
    encoded in the symbol).  Overrides a private pyHanko method: re-check on upgrades.
    """

    def _qr_xobject(self):
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=2)
        qr.add_data(self.url)
        qr.make()
        img = qr.make_image(image_factory=PdfStreamQRImage)
        bbox_size = (qr.modules_count + 2 * qr.border) * qr.box_size
        qr_xobj = init_xobject_dictionary(img.render_command_stream(), bbox_size, bbox_size)
        qr_xobj.compress()
        assert self.writer is not None
        return self.writer.add_object(qr_xobj), bbox_size


class MeteraiStampStyle(QRStampStyle):
    """QR above the text "METERAI ELEKTRONIK / 10000 / serial"."""

    def create_stamp(self, writer, box, text_params):
        """Build the stamp with the fixed-mask QR renderer."""
        url = text_params.pop("url")
        return _FixedMaskQRStamp(writer, style=self, url=url, text_params=text_params, box=box)


def meterai_style() -> MeteraiStampStyle:
    """QR above "METERAI ELEKTRONIK / 10000 / serial", thin border."""
    return MeteraiStampStyle(stamp_text=STAMP_TEXT, border_width=1,
                             qr_position=QRPosition.ABOVE_TEXT, innsep=2)


def add_link(writer: IncrementalPdfFileWriter, index: int,
              box: tuple[float, float, float, float], url: str) -> None:
    """Make the stamp clickable: a /Link annotation to the verification page.

    (The QR stamp only adds its own link when used as a plain stamp, not as the appearance
    of a signature field.)
    """
    page_ref, _ = writer.find_page_for_modification(index)
    page = page_ref.get_object()
    link = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Link"),
        generic.NameObject("/Rect"): generic.ArrayObject(generic.FloatObject(v) for v in box),
        generic.NameObject("/Border"): generic.ArrayObject([generic.NumberObject(0)] * 3),
        generic.NameObject("/A"): generic.DictionaryObject({
            generic.NameObject("/S"): generic.NameObject("/URI"),
            generic.NameObject("/URI"): generic.TextStringObject(url),
        }),
    }))
    raw = page.raw_get("/Annots") if "/Annots" in page else None
    if isinstance(raw, generic.IndirectObject):
        annots = raw.get_object()
        annots.append(link)
        writer.update_container(annots)
    else:
        annots = page.get("/Annots", generic.ArrayObject())
        annots.append(link)
        page[generic.NameObject("/Annots")] = annots
        writer.update_container(page)
