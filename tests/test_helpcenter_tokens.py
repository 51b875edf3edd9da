"""Search terms for the three languages."""

from bot.helpcenter.tokens import terms


def test_english_words_are_lower_cased_stemmed_and_stripped_of_function_words():
    assert terms("My Withdrawals are PENDING on TRC20, what's wrong? I can't log in") == [
        "withdrawal", "pend", "trc20", "wrong", "can't", "log",
    ]


def test_korean_runs_become_syllable_pairs_so_particles_do_not_hide_the_word():
    assert terms("출금이 대기 중") == ["출금", "금이", "대기", "중"]
    assert set(terms("출금")) <= set(terms("출금이 3시간째 대기 중이에요"))


def test_chinese_runs_become_pairs_and_single_characters():
    assert terms("提币失败") == ["提币", "币失", "失败", "提", "币", "失", "败"]


def test_full_width_letters_and_curly_apostrophes_read_as_plain_ones():
    assert terms("２ＦＡ won’t work") == ["2fa", "won't", "work"]
