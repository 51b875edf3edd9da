"""Article pages: Markdown rendered so that nothing written in an article can run in a reader's browser."""

import pytest

from bot.helpcenter.library import read_library
from bot.helpcenter.pages import article_page, index_page, is_safe_address, render_markdown
from tests.auxil.helpcenter import copied_help_center, rewrite


def test_raw_html_in_an_article_is_shown_as_text():
    html = render_markdown('Hello <script>alert(1)</script>\n\n<div onclick="steal()">x</div>\n\n**bold**')
    assert "<script" not in html and "<div" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<strong>bold</strong>" in html


@pytest.mark.parametrize(
    "address",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", " data:text/html,x", "vbscript:x"],
)
def test_links_and_images_that_would_run_code_lose_their_address(address):
    assert not is_safe_address(address)
    html = render_markdown(f"[click]({address}) ![pic]({address})")
    assert "href" not in html and "src" not in html and "click" in html


def test_ordinary_links_are_kept():
    html = render_markdown("[fees](trading-fees) [site](https://example.com/a?b=1) [mail](mailto:help@example.com)")
    assert 'href="trading-fees"' in html and 'href="https://example.com/a?b=1"' in html
    assert 'href="mailto:help@example.com"' in html


def test_a_page_escapes_what_its_front_matter_says(tmp_path):
    settings = copied_help_center(tmp_path)
    rewrite(
        settings.directory / "en" / "listings.md",
        "title: How new coins are listed",
        "title: How <img src=x onerror=alert(1)> coins are listed",
    )
    library = read_library(settings)
    article = library.get("en", "listings")
    assert article is not None
    for page in (article_page(library, article), index_page(library, "en")):
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_an_article_page_has_its_answer_body_and_the_other_languages(tmp_path):
    library = read_library(copied_help_center(tmp_path))
    article = library.get("zh", "withdrawal-fees")
    assert article is not None
    page = article_page(library, article)
    assert '<html lang="zh">' in page and "<h1>提现手续费、最低提现数量和每日提现额度</h1>" in page
    assert "<td>0.0002 BTC</td>" in page  # a table cell filled from the facts file
    assert 'href="../en/withdrawal-fees"' in page and 'href="../ko/withdrawal-fees"' in page
    assert 'href="wrong-network"' in page  # a link to another article stays relative
    assert "示例" in page  # the facts file still holds example values: the banner says so
