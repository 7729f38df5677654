"""The essentials of PDF/A-3b, checked in the file itself (no validator such as veraPDF is
installed here; see the README's "The referral report (PDF)"): the XMP identification
(part 3, conformance B), an output intent carrying its ICC profile, every font embedded, no
encryption, a file identifier, and each attached file an associated file of the document
(listed in the catalogue's /AF) with its AFRelationship, MIME type and modification date."""

from __future__ import annotations

import io

from pypdf import PdfReader


def _font_descriptor(font):
    if font.get("/Subtype") == "/Type0":
        return font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    descriptor = font.get("/FontDescriptor")
    return descriptor.get_object() if descriptor is not None else None


def assert_pdfa_3b(pdf: bytes, attachments: tuple[str, ...] = ()) -> PdfReader:
    reader = PdfReader(io.BytesIO(pdf))
    assert pdf.startswith(b"%PDF-") and not reader.is_encrypted
    assert reader.trailer.get("/ID") is not None, "PDF/A needs a file identifier"
    root = reader.trailer["/Root"]
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp, xmp[:400]

    intents = [i.get_object() for i in root.get("/OutputIntents", [])]
    assert intents, "no output intent"
    assert any(i.get("/S") == "/GTS_PDFA1" and i.get("/DestOutputProfile") is not None
               for i in intents), "the output intent carries no ICC profile"
    profile = intents[0]["/DestOutputProfile"].get_object()
    assert profile.get("/N") in (1, 3, 4) and len(profile.get_data()) > 128

    fonts = {}
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descriptor = _font_descriptor(font)
            fonts[str(font.get("/BaseFont"))] = descriptor is not None and any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert fonts and all(fonts.values()), f"fonts not embedded: {fonts}"

    associated = {str(spec.get_object().get("/F")): spec.get_object()
                  for spec in root.get("/AF", [])}
    for name in attachments:
        assert name in associated, f"{name} is not an associated file of the document"
        spec = associated[name]
        assert spec.get("/AFRelationship") in ("/Data", "/Source", "/Alternative",
                                               "/Supplement", "/Unspecified")
        embedded = spec["/EF"]["/F"].get_object()
        assert embedded.get("/Subtype") is not None, "the attachment has no MIME type"
        assert (embedded.get("/Params") or {}).get("/ModDate"), "no modification date"
    return reader
