"""Image attachments are previewed on the case page; other files stay download links."""

from __future__ import annotations

import asyncio
import struct
import zlib
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.auxil.desk_app import PASSWORDS, context_of, open_case, origin, running_desk, signed_in, visitor
from tests.auxil.desk_browser import chromium, close, require_chromium, sign_in

WIDTH, HEIGHT = 7, 3


def _png(width: int, height: int) -> bytes:
    """A real PNG (grey pixels) a browser decodes, built without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _attach(server, tmp_path: Path, case_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A customer's screenshot and a PDF statement on the case; their ids."""
    store = context_of(server).store
    picture, statement = tmp_path / "shot.png", tmp_path / "statement.pdf"
    picture.write_bytes(_png(WIDTH, HEIGHT))
    statement.write_bytes(b"%PDF-1.4 statement")
    image_id = store.add_attachment(
        case_id, kind="photo", name="shot.png", mime_type="image/png", size=picture.stat().st_size,
        stored_path=str(picture),
    )  # fmt: skip
    pdf_id = store.add_attachment(
        case_id, kind="document", name="statement.pdf", mime_type="application/pdf", size=18,
        stored_path=str(statement),
    )  # fmt: skip
    return image_id, pdf_id


async def test_an_image_is_served_inline_as_its_type_and_marked_for_preview(sqlite_url: str, tmp_path: Path) -> None:
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server)
        image_id, pdf_id = _attach(server, tmp_path, case.id)
        view = await (await alice.get(f"/api/cases/{case.id}")).json()
        assert {a["id"]: a["image"] for a in view["attachments"]} == {image_id: True, pdf_id: False}
        image = await alice.get(f"/api/cases/{case.id}/attachments/{image_id}")
        assert image.status == 200 and image.headers["Content-Type"] == "image/png"
        assert image.headers["Content-Disposition"] == 'inline; filename="shot.png"'
        assert image.headers["X-Content-Type-Options"] == "nosniff"
        pdf = await alice.get(f"/api/cases/{case.id}/attachments/{pdf_id}")
        assert pdf.headers["Content-Disposition"] == 'attachment; filename="statement.pdf"'
        async with visitor(server) as anonymous:  # the preview uses the same signed-in route
            refused = await anonymous.get(f"/api/cases/{case.id}/attachments/{image_id}", allow_redirects=False)
            assert refused.status == 401


def _preview_shown(driver, base: str, case_id: str, image_id: int, pdf_id: int) -> None:  # type: ignore[no-untyped-def]
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]'))).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), case_id))
    img = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#attachments img.attachment-preview"))
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == WIDTH)
    assert driver.execute_script("return arguments[0].naturalHeight", img) == HEIGHT
    assert img.get_attribute("alt") == "shot.png"
    assert (img.get_attribute("src") or "").endswith(f"/api/cases/{case_id}/attachments/{image_id}")
    links = driver.find_elements(By.CSS_SELECTOR, "#attachments a")
    pdf = next(a for a in links if (a.get_attribute("href") or "").endswith(f"/attachments/{pdf_id}"))
    assert "statement.pdf" in pdf.text and pdf.find_elements(By.TAG_NAME, "img") == []
    assert len(driver.find_elements(By.CSS_SELECTOR, "#attachments img")) == 1


@pytest.mark.browser
async def test_the_case_page_shows_the_image_and_links_the_pdf(sqlite_url: str, tmp_path: Path) -> None:
    require_chromium()
    async with running_desk(sqlite_url) as server:
        case = open_case(server)
        image_id, pdf_id = _attach(server, tmp_path, case.id)
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(_preview_shown, driver, origin(server), case.id, image_id, pdf_id)
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
