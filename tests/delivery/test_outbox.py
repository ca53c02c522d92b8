import asyncio
import logging
import threading

import pytest

from myaccount.delivery import Channel, Message, Outbox


def _code_mail(to: str, code: str) -> Message:
    return Message(to=to, subject="Your code", body=f"Your verification code is {code}.", channel="email")


def test_keeps_messages_oldest_first_and_filters_by_recipient() -> None:
    outbox = Outbox()
    channel: Channel = outbox  # mypy checks that the outbox satisfies the Channel protocol
    first, second, third = (
        _code_mail("a@x.co", "111111"),
        _code_mail("b@x.co", "222222"),
        _code_mail("a@x.co", "333333"),
    )
    for message in (first, second, third):
        asyncio.run(channel.send(message))
    assert outbox.messages() == [first, second, third]
    assert outbox.messages("a@x.co") == [first, third]
    assert outbox.messages("nobody@x.co") == []


def test_latest_code_is_the_newest_for_that_recipient() -> None:
    outbox = Outbox()
    asyncio.run(outbox.send(_code_mail("a@x.co", "111111")))
    asyncio.run(outbox.send(_code_mail("b@x.co", "222222")))
    asyncio.run(outbox.send(_code_mail("a@x.co", "333333")))
    assert outbox.latest_code("a@x.co") == "333333"
    assert outbox.latest_code("b@x.co") == "222222"
    assert outbox.latest_code("c@x.co") is None


def test_latest_code_skips_messages_without_one_and_longer_numbers() -> None:
    outbox = Outbox()
    asyncio.run(outbox.send(_code_mail("+14155550123", "048213")))
    notice = Message(to="+14155550123", subject="", body="Call +14155550199 or visit in 2026.", channel="sms")
    asyncio.run(outbox.send(notice))
    assert outbox.latest_code("+14155550123") == "048213"  # leading zero kept; the phone number is not a code


def test_capacity_drops_the_oldest() -> None:
    outbox = Outbox(capacity=2)
    for code in ("111111", "222222", "333333"):
        asyncio.run(outbox.send(_code_mail("a@x.co", code)))
    assert [m.body[-7:-1] for m in outbox.messages()] == ["222222", "333333"]
    with pytest.raises(ValueError):
        Outbox(capacity=0)


def test_clear() -> None:
    outbox = Outbox()
    asyncio.run(outbox.send(_code_mail("a@x.co", "111111")))
    outbox.clear()
    assert outbox.messages() == [] and outbox.latest_code("a@x.co") is None


def test_logs_each_message_with_its_code(caplog: pytest.LogCaptureFixture) -> None:
    outbox = Outbox()
    with caplog.at_level(logging.INFO, logger="myaccount.delivery.outbox"):
        asyncio.run(outbox.send(_code_mail("a@x.co", "482913")))
    assert len(caplog.records) == 1
    assert "a@x.co" in caplog.text and "482913" in caplog.text


def test_concurrent_senders_lose_nothing() -> None:
    outbox = Outbox(capacity=1000)

    async def send_all(n: int) -> None:
        for i in range(100):
            await outbox.send(_code_mail(f"user{n}@x.co", f"{n}{i:05d}"))

    def worker(n: int) -> None:
        asyncio.run(send_all(n))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outbox.messages()) == 800
    assert all(len(outbox.messages(f"user{n}@x.co")) == 100 for n in range(1, 9))
    assert outbox.latest_code("user3@x.co") == "300099"
