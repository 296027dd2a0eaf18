"""Signing reproduces the vectors of docs/platform.md §1.5."""

from __future__ import annotations

import pytest

from ordersync.taobao.signing import sign, signing_string

OFFICIAL = {
    "method": "taobao.item.seller.get",
    "app_key": "12345678",
    "session": "test",
    "timestamp": "2016-01-01 12:00:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "fields": "num_iid,title,nick,price,num",
    "num_iid": "11223344",
}


def test_official_md5_vector():
    assert signing_string(OFFICIAL) == (
        "app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.get"
        "num_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0"
    )
    assert sign(OFFICIAL, "helloworld", "md5") == "66987CB115214E59E6EC978214934FB8"


def test_second_md5_vector():
    params = {
        "app_key": "test",
        "fields": "nick",
        "format": "xml",
        "method": "taobao.user.seller.get",
        "session": "test",
        "sign_method": "md5",
        "timestamp": "2013-05-06 13:52:03",
        "v": "2.0",
    }
    assert sign(params, "test", "md5") == "72CB4D809B375A54502C09360D879C64"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("hmac", "D56D7858309C31B6251083A874D48273"),
        ("hmac-sha256", "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"),
    ],
)
def test_hmac_vectors_on_the_official_params(method, expected):
    assert sign({**OFFICIAL, "sign_method": method}, "helloworld", method) == expected


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("md5", "4B4AC0F2D69BA521FFDE55A2BBEE3025"),
        ("hmac", "26C775E5D0EB124C248184BFA79CA514"),
        ("hmac-sha256", "1C52CEB1EDD0E67254A35412A976973A383608B65620DDEB0D2469F8370F3ADE"),
    ],
)
def test_doc_illustration(method, expected):
    params = {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}
    assert signing_string(params) == "bar2foo1foo_bar3foobar4"
    assert sign(params, "secret", method) == expected


def test_sign_and_empty_values_are_not_signed():
    assert signing_string({"a": "1", "sign": "X", "b": ""}) == "a1"
