"""How well the help-center search finds the right article, per language and per method.

`tests/data/helpcenter_questions.yml` holds customer questions written apart from the articles
(the writer saw only the article ids and topics): the right article is the one named. For
each language: top-1 (the best hit is right) and top-3 (the right one is among the three the
bot links). Methods: BM25 alone, embeddings alone, and both fused (what ships).

    python -m bench.helpcenter_report      # a table, plus timings and answer/no-answer similarities
"""
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import yaml

from bot.helpcenter.articles import LANGUAGES
from bot.helpcenter.library import LiveLibrary
from bot.helpcenter.search import HelpSearch, passage_text
from bot.helpcenter.settings import HelpCenterSettings
from bot.nlu_components.embedding_cache import EmbeddingCache
from bot.nlu_components.encoder import SentenceEncoder, shared_encoder

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "data" / "helpcenter_questions.yml"
# Off-topic messages (written here, not apart): the search should answer none of them.
OFF_TOPIC = {
    "en": ["what's the weather like tomorrow", "tell me a joke", "who won the football game last night",
           "recommend a good pizza place nearby", "what is the capital of australia", "asdf qwer zxcv"],
    "ko": ["내일 날씨 어때요", "재미있는 농담 하나 해 줘", "어제 축구 경기 누가 이겼어요",
           "근처에 맛있는 피자집 추천해 주세요", "호주의 수도가 어디예요", "ㅋㅋㅋㅋ"],
    "zh": ["明天天气怎么样", "给我讲个笑话", "昨晚的足球比赛谁赢了",
           "推荐一家附近好吃的披萨店", "澳大利亚的首都是哪里", "哈哈哈哈"],
}

Ranker = Callable[[str, str], list[str]]


def questions() -> list[dict[str, str]]:
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]


def accuracy(rank: Ranker, asked: Sequence[dict[str, str]]) -> dict[str, tuple[float, float]]:
    """Per language: (top-1, top-3) share of questions whose article ``rank`` puts first / in the first three."""
    result = {}
    for language in LANGUAGES:
        mine = [q for q in asked if q["language"] == language]
        ranked = [rank(q["text"], language) for q in mine]
        top1 = sum(r[:1] == [q["article"]] for q, r in zip(mine, ranked, strict=True)) / len(mine)
        top3 = sum(q["article"] in r[:3] for q, r in zip(mine, ranked, strict=True)) / len(mine)
        result[language] = (top1, top3)
    return result


class RememberingEncoder:
    """The encoder, with each text embedded once per run (questions are asked of several methods).

    With ``question_cache``, the test questions' embeddings also outlive the run (they are test
    data, not customers' words), so only new or reworded questions are embedded again.
    """

    def __init__(self, encoder: SentenceEncoder, question_cache: EmbeddingCache | None = None) -> None:
        self.encoder = encoder
        self.question_cache = question_cache
        self.seen: dict[tuple[str, bool], np.ndarray] = {}

    def embed(self, texts: Sequence[str], *, as_query: bool = True) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (t, as_query) not in self.seen]
        if missing and as_query and self.question_cache is not None:
            for text, vector in self.question_cache.get_many(missing).items():
                self.seen[(text, True)] = vector
            missing = [t for t in missing if (t, True) not in self.seen]
        if missing:
            fresh = dict(zip(missing, self.encoder.embed(missing, as_query=as_query), strict=True))
            self.seen.update({(text, as_query): vector for text, vector in fresh.items()})
            if as_query and self.question_cache is not None:
                self.question_cache.put_many(fresh)
        return np.stack([self.seen[(t, as_query)] for t in texts])


def rankers(encoder: RememberingEncoder) -> dict[str, Ranker]:
    live = LiveLibrary(HelpCenterSettings())
    bm25 = HelpSearch(live)
    fused = HelpSearch(live, encoder)
    fused.index()

    def embeddings_only(text: str, language: str) -> list[str]:
        articles = live.current().in_language(language)
        passages = encoder.embed([passage_text(a) for a in articles], as_query=False)
        similarity = passages @ encoder.embed([text])[0]
        return [articles[i].id for i in np.argsort(-similarity, kind="stable")]

    def ids(search: HelpSearch) -> Ranker:
        return lambda text, language: [hit.article.id for hit in search.search(text, language, limit=27)]

    return {"BM25": ids(bm25), "embeddings": embeddings_only, "BM25 + embeddings (RRF)": ids(fused)}


def best_similarity(encoder: RememberingEncoder, text: str, language: str) -> float:
    articles = LiveLibrary(HelpCenterSettings()).current().in_language(language)
    passages = encoder.embed([passage_text(a) for a in articles], as_query=False)
    return float((passages @ encoder.embed([text])[0]).max())


def main() -> None:
    asked = questions()
    encoder = RememberingEncoder(shared_encoder(None, 2))
    started = time.perf_counter()
    methods = rankers(encoder)
    print(f"passages embedded in {time.perf_counter() - started:.1f} s")
    print("| method | " + " | ".join(f"{lang} top-1 | {lang} top-3" for lang in LANGUAGES) + " |")
    print("|---|" + "---|" * (2 * len(LANGUAGES)))
    for name, rank in methods.items():
        started = time.perf_counter()
        scores = accuracy(rank, asked)
        took = (time.perf_counter() - started) / len(asked) * 1000
        cells = " | ".join(f"{top1:.3f} | {top3:.3f}" for top1, top3 in scores.values())
        print(f"| {name} | {cells} |  ({took:.1f} ms a question, first embedding included)")
    for language in LANGUAGES:
        right = [best_similarity(encoder, q["text"], language) for q in asked if q["language"] == language]
        off = [best_similarity(encoder, text, language) for text in OFF_TOPIC[language]]
        print(f"{language}: best cosine, questions: min {min(right):.3f} p5 {np.percentile(right, 5):.3f} "
              f"median {np.median(right):.3f}; off-topic: max {max(off):.3f} median {np.median(off):.3f}")
        unanswered = [t for t in OFF_TOPIC[language] if methods["BM25 + embeddings (RRF)"](t, language)]
        print(f"{language}: off-topic answered by the shipped search: {unanswered}")


if __name__ == "__main__":
    main()
