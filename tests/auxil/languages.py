"""Korean and Chinese customers for the end-to-end tests, and which variation of a response they got."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from tests.auxil.telegram_harness import domain_text, test_domain


@dataclass(frozen=True)
class Customer:
    """What a customer writing ``language`` says: a theft, a stuck withdrawal, and "I don't know"."""

    language: str
    theft: str
    withdrawal: str
    dont_know: str


CUSTOMERS = {
    "ko": Customer(
        language="ko",
        theft="누가 제 계정에 들어와서 비트코인을 몽땅 출금해 갔어요 제가 한 게 아니에요",
        withdrawal="비트코인 출금 신청한 지 다섯 시간이 넘었는데 아직도 처리 중이에요",
        dont_know="모르겠어요",
    ),
    "zh": Customer(
        language="zh",
        theft="有人登录了我的账户，把我的比特币全部提走了，不是我操作的",
        withdrawal="我的比特币提现已经五个小时了，一直显示处理中",
        dont_know="不知道",
    ),
}
PLACEHOLDER = re.compile(r"\{\w+\}")
# A case id in any language: Korean attaches its particles ("CX-AB12CD입니다"), so no \b after it.
CASE_ID = re.compile(r"(?<![0-9A-Za-z])CX-[0-9A-Z]{6}(?![0-9A-Z])")


def pieces(name: str, language: str, *, escaped: bool) -> list[str]:
    """The fixed text of ``name``'s variation for ``language``, between its ``{placeholders}``.

    ``escaped``: as Telegram receives it (HTML); otherwise as the REST channel returns it.
    """
    text = domain_text(name, language)
    return [p for p in PLACEHOLDER.split(text if escaped else html.unescape(text)) if p.strip()]


def says(text: str, name: str, language: str, *, escaped: bool = False) -> bool:
    """True when ``text`` contains ``name``'s variation for ``language`` (placeholders filled in)."""
    return all(piece in text for piece in pieces(name, language, escaped=escaped))


def questions() -> list[str]:
    """Every question the details form may ask (``utter_ask_<slot>``)."""
    return [name for name in test_domain().responses if name.startswith("utter_ask_") and name != "utter_ask_p1_check"
            and name != "utter_ask_issue_type"]
