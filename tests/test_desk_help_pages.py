"""The desk serves the help center to anyone, and rereads the articles when they change."""

from bot.helpcenter.library import LiveLibrary
from bot.helpcenter.search import HelpSearch
from bot.helpcenter.settings import HelpCenterSettings
from tests.auxil.desk_app import running_desk, visitor
from tests.auxil.helpcenter import copied_help_center, rewrite


async def test_pages_are_public_and_linked_the_way_the_bot_links_them(sqlite_url):
    async with running_desk(sqlite_url, DESK_PORT="8080") as server, visitor(server) as client:
        home = await client.get("/help", allow_redirects=False)
        assert home.status == 302 and home.headers["Location"] == "/help/en/"
        no_slash = await client.get("/help/ko", allow_redirects=False)
        assert no_slash.status == 302 and no_slash.headers["Location"] == "/help/ko/"

        index = await client.get("/help/ko/")
        assert index.status == 200 and index.content_type == "text/html"
        assert 'href="withdrawal-fees"' in await index.text()

        link = HelpSearch(LiveLibrary(HelpCenterSettings.from_env({"DESK_PORT": "8080"}))).search(
            "TRC20 USDT 출금 수수료", "ko"
        )[0].url
        assert link == "http://127.0.0.1:8080/help/ko/withdrawal-fees"
        page = await client.get(link.removeprefix("http://127.0.0.1:8080"))
        assert page.status == 200 and "출금 수수료, 최소 출금액, 일일 출금 한도" in await page.text()
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        style = await client.get("/static/help.css")
        assert style.status == 200

        assert (await client.get("/help/en/no-such-article")).status == 404
        assert (await client.get("/help/fr/")).status == 404
        assert (await client.get("/help/en/../../api/queue")).status in (401, 404)


async def test_an_edited_article_is_served_without_a_restart(sqlite_url, tmp_path):
    settings = copied_help_center(tmp_path)
    env = {"HELPCENTER_DIR": str(settings.directory), "HELPCENTER_RELOAD_CHECK_SECONDS": "0"}
    async with running_desk(sqlite_url, **env) as server, visitor(server) as client:
        assert "How new coins are listed" in await (await client.get("/help/en/listings")).text()
        rewrite(settings.directory / "en" / "listings.md", "title: How new coins", "title: How fresh coins")
        assert "How fresh coins are listed" in await (await client.get("/help/en/listings")).text()
        settings.facts_file.unlink()
        assert "How fresh coins are listed" in await (await client.get("/help/en/listings")).text()


def test_the_base_url_setting_moves_the_bots_links_elsewhere():
    settings = HelpCenterSettings.from_env({"HELPCENTER_BASE_URL": "https://help.example.com/center/"})
    assert settings.article_url("zh", "listings") == "https://help.example.com/center/zh/listings"
    public = HelpCenterSettings.from_env({"DESK_PUBLIC_ORIGIN": "https://desk.example.com/"})
    assert public.article_url("en", "listings") == "https://desk.example.com/help/en/listings"
