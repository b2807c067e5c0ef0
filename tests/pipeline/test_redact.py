import pytest

from pipeline.normalize import normalize_persian, normalize_text
from pipeline.redact import iban_ok, luhn_ok, redact_text


@pytest.mark.parametrize("text,placeholder,secret", [
    ("write to jane.doe@example.com today", "[EMAIL]", "jane.doe@example.com"),
    ("call +39 333 123 4567 please", "[PHONE]", "333 123 4567"),
    ("my number is (415) 555-0134", "[PHONE]", "555-0134"),
    ("电话 138 1234 5678", "[PHONE]", "138 1234 5678"),
    ("شماره من 09121234567 است", "[PHONE]", "09121234567"),
    ("card 4111 1111 1111 1111 was charged", "[CARD]", "4111 1111 1111 1111"),
    ("paid with 5500-0000-0000-0004", "[CARD]", "5500-0000-0000-0004"),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "[IBAN]", "DE89 3704 0044 0532 0130 00"),
    ("IBAN GB82WEST12345698765432", "[IBAN]", "GB82WEST12345698765432"),
])
def test_pii_is_replaced_by_a_typed_placeholder(text, placeholder, secret):
    r = redact_text(text)
    assert placeholder in r.text
    assert secret not in r.text
    assert r.count >= 1


def test_order_number_failing_luhn_is_kept():
    text = "order number 1234567812345678 arrived"
    assert not luhn_ok("1234567812345678")
    r = redact_text(text)
    assert r.text == text and r.count == 0


def test_iban_shape_failing_checksum_is_kept():
    assert not iban_ok("DE00370400440532013000")
    assert redact_text("ref DE00370400440532013000").text == "ref DE00370400440532013000"


def test_plain_text_and_dates_untouched():
    text = "Delivered on 2026-10-01 at 10:30, 3 items for 49.90 EUR."
    assert redact_text(text).text == text


def test_normalize_text_collapses_space_keeps_lines():
    assert normalize_text("  Ｈｅｌｌｏ\u200b  world \r\n\r\n second\tline ") == "Hello world\nsecond line"


def test_normalize_persian_letters():
    assert normalize_persian("گوشي خوبيه") == "گوشی خوبیه"
