"""The message's language from its script: clear evidence only, mixed messages keep the CJK language."""

import pytest

from bot.language.script import detect


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("출금이 3시간째 대기 중이에요", "ko"),
        ("有人盗了我的账户", "zh"),
        ("my withdrawal has been pending for 3 hours", "en"),
        ("I don't know", "en"),
        # coin names, tickers and networks in Latin letters do not make Korean or Chinese English
        ("USDT TRC20 출금이 안 돼요", "ko"),
        ("usdt trc20 출금 안됨", "ko"),
        ("binance에서 보낸 BTC가 안 들어와요", "ko"),
        ("我的USDT提现一直没到账", "zh"),
        ("Binance 转过来的 ETH 还没到账", "zh"),
        ("ㅠㅠ", "ko"),
        # English with a Korean word stays English when the English outweighs it
        ("my 비트코인 withdrawal is stuck since yesterday", "en"),
        # no clear evidence: the conversation keeps its language
        ("0x" + "ab" * 32, None),
        ("1,500.25", None),
        ("ok", None),
        ("yes", None),
        ("Trust Wallet", None),
        ("iPhone 15", None),
        ("USDT TRC20", None),
        ("CX-7K3M9Q", None),
        ("", None),
        ("アカウントがロックされました", None),  # Japanese: none of ours, and its kanji are not Chinese
    ],
)
def test_detect(text, language):
    assert detect(text) == language
