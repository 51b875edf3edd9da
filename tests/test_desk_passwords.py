from bot.cases.agent_directory import AgentDirectory, NewAgent
from bot.cases.database import make_engine
from bot.desk.passwords import DEFAULT_ITERATIONS, Credentials, dummy_hash, hash_password


def test_the_dummy_hash_costs_what_the_costliest_agent_hash_costs():
    hashes = [hash_password("a", iterations=2000), hash_password("b", iterations=5000), "md5$broken"]
    assert dummy_hash(hashes).startswith("pbkdf2_sha256$5000$")
    assert dummy_hash([]).startswith(f"pbkdf2_sha256${DEFAULT_ITERATIONS}$")


def test_credentials_accept_only_an_active_agent_with_the_right_password(sqlite_url):
    directory = AgentDirectory(make_engine(sqlite_url))
    directory.seed([NewAgent("alice", hash_password("alice-pass", iterations=1000), "admin")])
    directory.add(NewAgent("bob", hash_password("bob-pass", iterations=1000)))
    credentials = Credentials(directory)
    assert credentials.check("alice", "alice-pass")
    assert not credentials.check("alice", "wrong")
    assert not credentials.check("mallory", "alice-pass")
    assert not credentials.check("mallory", "")
    assert credentials.check("bob", "bob-pass")
    directory.change("bob", active=False)  # removed by an admin: refused from the next sign-in on
    assert not credentials.check("bob", "bob-pass")


def test_the_hash_command_explains_itself_and_hashes_a_piped_password():
    import subprocess
    import sys

    from bot.desk.passwords import check_password
    from bot.settings import PROJECT_ROOT

    run = dict(cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    helped = subprocess.run([sys.executable, "-m", "bot.desk.hash_password", "--help"], input="", **run)
    assert helped.returncode == 0 and "DESK_AGENTS" in helped.stdout
    wrong = subprocess.run([sys.executable, "-m", "bot.desk.hash_password", "alice"], input="", **run)
    assert wrong.returncode == 2 and "unrecognized arguments" in wrong.stderr
    made = subprocess.run([sys.executable, "-m", "bot.desk.hash_password"], input="s3cret pass\n", **run)
    assert made.returncode == 0 and check_password("s3cret pass", made.stdout.strip())
