"""One masking rule for every service: what a reader without the personal-data scope sees."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from govmesh_kit.masking import mask_id_number, mask_name, mask_personal_data, mask_phone


def test_a_name_keeps_its_first_character_only() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name(" Smith ") == "S****"


def test_a_one_character_name_is_hidden_whole() -> None:
    # the old copies disagreed: two showed 张, two showed 张*; both reveal the whole name
    assert mask_name("张") == "*"
    assert mask_name("") == "" and mask_name("  ") == ""


@given(st.text(min_size=1).filter(lambda s: len(s.strip()) >= 1))
def test_no_name_is_ever_shown_whole(name: str) -> None:
    shown = mask_name(name)
    assert shown != name.strip()
    assert len(shown) == len(name.strip())


def test_phones_keep_the_first_three_and_last_four_digits() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_phone("0931-8123456") == "093****3456"
    assert mask_phone("1234567") == "*******"  # 3 + 4 of 7 digits would be all of them


@given(st.from_regex(r"[0-9]{1,15}", fullmatch=True))
def test_a_phone_never_shows_more_than_seven_digits_nor_all_of_them(phone: str) -> None:
    shown = mask_phone(phone)
    visible = re.sub(r"\*", "", shown)
    assert len(visible) <= 7 and shown != phone and len(shown) == len(phone)


def test_an_id_number_keeps_its_first_and_last_four_characters() -> None:
    assert mask_id_number("620702199001011234") == "6207**********1234"
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_id_number("12345678") == "********"


def test_free_text_loses_every_phone_and_id_number() -> None:
    text = "Called 13912345678, +86 13712345678 and 0936-8212345; ID 62070219800101123X on file."
    assert mask_personal_data(text) == "Called [phone], [phone] and [phone]; ID [id-number] on file."
    assert mask_personal_data("楼上漏水，电话13812345678") == "楼上漏水，电话[phone]"


def test_free_text_keeps_ids_that_are_not_personal() -> None:
    trace = "trace 0af7651916cd43dd8448eb211c80319c case 3f1c2a90-0000-4000-8000-000000000001"
    assert mask_personal_data(trace) == trace
    assert mask_personal_data("order 12345 at 10:30") == "order 12345 at 10:30"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.text(alphabet="abc 楼上，。", max_size=10))
def test_no_mobile_survives_in_free_text(mobile: str, around: str) -> None:
    assert mobile not in mask_personal_data(around + mobile + around)
