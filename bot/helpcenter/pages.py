"""Help-center pages as HTML: an index per language and one page per article.

Articles are Markdown written by people, so the HTML is made safe here: raw HTML in an
article is shown as text, not run; a link or image whose address is not http(s), mailto or
relative (``javascript:``...) loses it; every value put into the page template is escaped.
Links in the pages are relative, so they work wherever the pages are mounted.
"""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import markdown
from markdown.treeprocessors import Treeprocessor

from bot.helpcenter.articles import LANGUAGES, Article
from bot.helpcenter.library import Library

LANGUAGE_NAMES = {"en": "English", "ko": "한국어", "zh": "中文"}
SAFE_SCHEMES = frozenset({"", "http", "https", "mailto"})
# The pages' own words; the articles bring the rest.
CHROME = {
    "en": {
        "help_center": "Help center",
        "all_articles": "All articles",
        "short_answer": "In short",
        "updated": "Updated",
        "examples": "The fees, limits and other figures on these pages are examples, not this exchange's own yet.",
        "never_ask": "We never ask for your password, 2FA codes, seed phrase or private keys.",
    },
    "ko": {
        "help_center": "고객센터",
        "all_articles": "전체 도움말",
        "short_answer": "요약",
        "updated": "업데이트",
        "examples": "이 페이지의 수수료, 한도 등 수치는 예시이며 아직 이 거래소의 실제 값이 아닙니다.",
        "never_ask": "저희는 비밀번호, 2단계 인증 코드, 시드 구문, 개인 키를 절대 요구하지 않습니다.",
    },
    "zh": {
        "help_center": "帮助中心",
        "all_articles": "全部文章",
        "short_answer": "简要回答",
        "updated": "更新于",
        "examples": "本页面中的手续费、额度等数值均为示例，尚不是本交易所的实际数值。",
        "never_ask": "我们绝不会索要您的密码、双重验证码、助记词或私钥。",
    },
}


class _DropUnsafeAddresses(Treeprocessor):
    def run(self, root: Element) -> None:
        for element in root.iter():
            for attribute in ("href", "src"):
                address = element.get(attribute)
                if address is not None and not is_safe_address(address):
                    del element.attrib[attribute]


def is_safe_address(address: str) -> bool:
    """http(s), mailto or a relative address; browsers ignore spaces and controls inside a scheme, so do we."""
    compact = re.sub(r"[\x00-\x20\x7f]+", "", address)
    try:
        return urlsplit(compact).scheme.lower() in SAFE_SCHEMES
    except ValueError:
        return False


def render_markdown(text: str) -> str:
    """Article Markdown to HTML in which nothing from the article can run."""
    converter = markdown.Markdown(extensions=["tables", "sane_lists"])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    converter.treeprocessors.register(_DropUnsafeAddresses(converter), "drop_unsafe_addresses", 0)
    return converter.convert(text)


def article_page(library: Library, article: Article) -> str:
    words = CHROME[article.language]
    others = " · ".join(
        f'<a href="../{language}/{escape(article.id)}" hreflang="{language}" lang="{language}">'
        f"{LANGUAGE_NAMES[language]}</a>"
        for language in LANGUAGES
        if language != article.language and library.get(language, article.id) is not None
    )
    content = f"""<article>
<h1>{escape(article.title)}</h1>
<section class="short-answer"><h2>{words["short_answer"]}</h2><p>{escape(article.summary)}</p></section>
{render_markdown(article.body)}
<p class="updated">{words["updated"]}: <time>{article.updated.isoformat()}</time></p>
</article>
<nav class="languages">{others}</nav>"""
    return _page(library, article.language, article.title, content)


def index_page(library: Library, language: str) -> str:
    words = CHROME[language]
    items = "\n".join(
        f'<li><a href="{escape(article.id)}">{escape(article.title)}</a><p>{escape(article.summary)}</p></li>'
        for article in library.in_language(language)
    )
    others = " · ".join(
        f'<a href="../{other}/" hreflang="{other}" lang="{other}">{LANGUAGE_NAMES[other]}</a>'
        for other in LANGUAGES
        if other != language
    )
    content = f"""<h1>{words["help_center"]}</h1>
<ul class="articles">
{items}
</ul>
<nav class="languages">{others}</nav>"""
    return _page(library, language, words["help_center"], content)


def _page(library: Library, language: str, title: str, content: str) -> str:
    words = CHROME[language]
    name = escape(library.facts.values.get("exchange_name", ""))
    banner = f'<p class="examples" role="note">{words["examples"]}</p>' if library.facts.example_values else ""
    return f"""<!doctype html>
<html lang="{language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {name}</title>
<link rel="stylesheet" href="../../static/help.css">
</head>
<body>
<header><strong>{name} {words["help_center"]}</strong> <a href="../{language}/">{words["all_articles"]}</a></header>
{banner}
<main>
{content}
</main>
<footer><p>{words["never_ask"]}</p></footer>
</body>
</html>
"""
