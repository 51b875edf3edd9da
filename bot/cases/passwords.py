"""Passwords in customer text: what follows a password label, in the languages customers write.

"password: x", "password is x", "my password for binance is x", "passwort: x", "mot de passe : x",
"пароль x", "비밀번호는 x", "密码是x", an unmarked "password hunter2", a login pair
("bob@mail.com / x") and a passphrase after a colon ("password: correct horse battery staple").
Talking about a password is not giving one ("my password is not working", "passwort
vergessen"): the weaker the link between label and word, the more the word must look like a
password (a digit, a symbol, mixed case).

Each pattern starts at a label and reads a bounded stretch after it (gaps of a few
characters, a few words), and a secret is read to its end once: the cost is linear in the
text, whatever runs of spaces or labels it holds.
"""

from __future__ import annotations

import re
from enum import Enum

# Labels between word boundaries of any script, and labels of scripts written without spaces.
_WORD_LABELS = (
    r"pass[\s-]?(?:word|code|phrase)|passwd|pwd|pw|pass|passwort|kennwort|wachtwoord|mot\s{1,2}de\s{1,2}passe|mdp"
    r"|contrase[ñn]a|senha|has[łl]o|[şs]ifre|parola|m[ậa]t\s{1,2}kh[ẩa]u|kata\s{1,2}sandi|пароль"
)
_GLUED_LABELS = r"비밀번호|비번|암호|密码|密碼|パスワード|รหัสผ่าน"
_LABEL = rf"(?P<label>(?<![^\W\d_])(?:{_WORD_LABELS})(?![^\W\d_])|{_GLUED_LABELS})"
_AMBIGUOUS_LABELS = frozenset({"pw", "pass", "mdp", "parola", "암호"})  # also a word, a ticket, a cipher
_SECRET = r"(?=(?P<secret>\S{1,64}))"  # a lookahead: the secret may hold another label
_PASSWORD = re.compile(
    _LABEL + r"(?:(?P<strong>\s{0,3}(?:[:=\uff1a]|->|=>|→)\s{0,3}|\s?(?:是|는|은|は)\s?"
    r"|\s{1,3}(?:(?:is|was|has\s{1,3}been)\s{1,3})?(?:changed|set|reset)\s{1,3}to\s{1,3})"
    r"|(?P<copula>\s{1,3}(?:is|was)\s{1,3})"
    r"|\s{0,3}[-\u2013\u2014]\s{0,3}|\s{1,3}(?:ist|est|es|é|era|war|это)\s{1,3}|\s{1,3})" + _SECRET,
    re.I,
)
# "the pwd i use everywhere is x", "here's my password in case you need it: x"
_GAP_WORD = r"[\w'@-]{1,24}(?:\.[\w@-]{1,24}){0,3}"
_PASSWORD_AFTER_WORDS = re.compile(
    rf"{_LABEL}(?:\s{{1,3}}{_GAP_WORD}){{1,5}}?(?:\s{{0,3}}[:=]\s{{0,3}}|\s{{1,3}}(?:is|was)\s{{1,3}}){_SECRET}", re.I
)
# "bob@mail.com / x", "bob@mail.com : x"; a space by the mark, so "git@github.com:org/repo" is no login
_LOGIN_PAIR = re.compile(
    r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,4}(?:\s{1,3}[:|/]\s{0,3}|[:|]\s{1,3})" + _SECRET
)
_NOT_SECRET = frozenset(
    "not wrong incorrect correct right invalid expired too still the my a an being rejected fine ok okay "
    "working changed reset same strong weak long short saved stored new old also now and but so just in on "
    "at for from to with definitely case sensitive locked blocked forgotten lost accepted denied declined "
    "refused compromised leaked stolen hacked updated required needed different unknown what is was isn't default "
    "wasn't doesn't didn't won't can't".split()
)
_DESCRIPTION = re.compile(r"[a-z]+(?:ed|ing|ly)")  # "password is changed", "... is expiring"
_PASSWORD_LIKE = re.compile(r"\d|[^\w\s'\-.,!?]|[a-z][A-Z]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PLAIN_WORD = re.compile(r"[^\W\d_]+")
_PHRASE_WORDS = re.compile(r"(?:[ \t][^\W\d_]{4,24}){2,7}(?![\w@])")  # on the same line
_SPACE = re.compile(r"\s")
_PUNCTUATION = ".,!?;:)]}\"'"


class _Link(Enum):
    """How firmly the label points at the word after it."""

    STRONG = "strong"  # ":", "->", "changed to", "是": any word that is not a description
    COPULA = "copula"  # "is": as strong after a clear label, else the word must look like a password
    WEAK = "weak"  # nothing, "-", "ist", words in between: the word must look like a password


def password_spans(text: str, *, joined: bool = False) -> list[tuple[int, int]]:
    """Where passwords are in ``text``, as (start, end) character ranges.

    ``joined`` is True for words that were joined by "_" (file names, deep links): no
    marker fits between them, so "pw_Hunter2x9Q" is a password as "pw: Hunter2x9Q" is.
    """
    found: list[tuple[int, int, _Link, bool]] = []
    for match in _PASSWORD.finditer(text):
        link = _Link.STRONG if match["strong"] else _Link.COPULA if match["copula"] else _Link.WEAK
        found.append((match.start("secret"), match.end("secret"), link, _clear(match["label"]) or joined))
    for match in _PASSWORD_AFTER_WORDS.finditer(text):
        found.append((match.start("secret"), match.end("secret"), _Link.WEAK, _clear(match["label"])))
    for match in _LOGIN_PAIR.finditer(text):
        found.append((match.start("secret"), match.end("secret"), _Link.WEAK, True))
    spans: list[tuple[int, int]] = []
    reach = 0  # a secret is read to its end once, not again from each label inside it
    for start, end, link, clear in sorted(found, key=lambda item: item[0]):
        if start < reach:
            continue
        span = _secret_span(text, start, end, link, clear)
        if span is not None:
            spans.append(span)
            reach = span[1]
    return spans


def _clear(label: str) -> bool:
    """True for labels that only ever mean a password ("pass" and "pw" may not)."""
    return re.sub(r"[\s-]", "", label).lower() not in _AMBIGUOUS_LABELS


def _secret_span(text: str, start: int, end: int, link: _Link, clear: bool) -> tuple[int, int] | None:
    """The password starting at ``start``, if the word there is one for this link; a passphrase runs on."""
    word = text[start:end].strip(_PUNCTUATION)
    if link is _Link.STRONG and clear and _PLAIN_WORD.fullmatch(word) and not _DESCRIPTION.fullmatch(word):
        phrase = _PHRASE_WORDS.match(text, end)
        if phrase is not None and all(_acceptable(w) for w in phrase.group().split()):
            return start, phrase.end()
    if not _acceptable(word) or (link is _Link.WEAK and not clear):  # "pass KYC2024" is not a password
        return None
    if not (link is _Link.STRONG or (link is _Link.COPULA and clear)) and not (
        len(word) >= 6 and _PASSWORD_LIKE.search(word)
    ):
        return None
    if end - start == 64:  # the lookahead's limit: a password this long runs on to the next space
        space = _SPACE.search(text, end)
        end = space.start() if space else len(text)
    return start, end


def _acceptable(word: str) -> bool:
    """A word that may be a password: not a description of one, nor an email address."""
    return not (len(word) < 4 or word.lower() in _NOT_SECRET or _DESCRIPTION.fullmatch(word) or _EMAIL.fullmatch(word))
