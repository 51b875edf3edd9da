import time

import aiohttp

from bot.desk.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers, verify
from tests.auxil.desk_webhook_receiver import WebhookReceiver

SECRET = "s3cret-for-tests"


def test_signature_round_trip_and_tampering():
    body = b'{"event":"case_opened"}'
    headers = signed_headers(SECRET, body)
    assert verify(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body)
    assert not verify(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body + b" ")
    assert not verify("other-secret", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body)
    assert not verify(SECRET, None, headers[SIGNATURE_HEADER], body)
    assert not verify(SECRET, "not-a-number", headers[SIGNATURE_HEADER], body)


def test_old_timestamp_is_a_replay():
    body = b"{}"
    stamp = int(time.time()) - 3600
    assert not verify(SECRET, str(stamp), sign(SECRET, stamp, body), body)
    assert verify(SECRET, str(stamp), sign(SECRET, stamp, body), body, tolerance=7200)


async def test_receiver_rejects_a_forged_signature():
    async with WebhookReceiver(SECRET) as receiver, aiohttp.ClientSession() as session:
        body = b'{"event":"case_opened","case":{"id":"CX-FORGED"}}'
        forged = {TIMESTAMP_HEADER: str(int(time.time())), SIGNATURE_HEADER: sign("guessed", int(time.time()), body)}
        async with session.post(receiver.url, data=body, headers=forged) as response:
            assert response.status == 401
        async with session.post(receiver.url, data=body, headers=signed_headers(SECRET, body)) as response:
            assert response.status == 204
    assert receiver.rejected_signatures == 1
    assert [a["case"]["id"] for a in receiver.accepted] == ["CX-FORGED"]
