"""Signature vectors: the reference's worked example and vectors computed independently with openssl."""

import pytest

from source_convert.components.signing import authorization_header, canonical_body, compact_json, sign

KEY_ID = "demo-app-id-1234"
SECRET = "demo-secret-abcdef"
EXPIRES = "1767225600"
BASE = "https://api.convert.com/api/v2/accounts/100001/projects/200002"


def test_worked_example_post_list():
    body = compact_json({"page": 1, "results_per_page": 50, "sort_by": "id", "sort_direction": "asc"}).encode()
    assert sign(KEY_ID, SECRET, EXPIRES, f"{BASE}/experiences", body) == (
        "77f3ec5afbcef03df9addc51e558ba6863d7a02cc51563d294a14be4850847df"
    )


def test_worked_example_get_without_body_signs_empty_string():
    assert sign(KEY_ID, SECRET, EXPIRES, f"{BASE}/experiences/300003", None) == (
        "363dc926e84a94d9b3d43a33653a1b1d630df3035fad889bc7a694224f604f1c"
    )


def test_query_string_is_part_of_the_signed_url():
    url = f"{BASE}/experiences/300003?include[]=variations&include[]=stats"
    # openssl dgst -sha256 -hmac demo-secret-abcdef over the sign string with that URL
    assert sign(KEY_ID, SECRET, EXPIRES, url, b"") == "192309f2c977ad798597ab29b9ef7ebab042fff0b7418400531aac67960f4e03"


def test_unicode_and_slashes_are_signed_unescaped():
    body = canonical_body('{"search": "caf\\u00e9/\\u00f1 \\ud83d\\ude00", "url": "https:\\/\\/x.example\\/a\\/b"}')
    assert body.decode("utf-8") == '{"search":"café/ñ 😀","url":"https://x.example/a/b"}'
    # openssl dgst -sha256 -hmac demo-secret-abcdef over the sign string with that body
    assert sign(KEY_ID, SECRET, EXPIRES, f"{BASE}/goals", body) == (
        "649415777c5dace6a66b1743269c7924128d18659a1eb34c8cb107fff7d12c20"
    )


def test_default_python_json_would_give_another_digest():
    spaced = b'{"page": 1, "results_per_page": 50, "sort_by": "id", "sort_direction": "asc"}'
    assert sign(KEY_ID, SECRET, EXPIRES, f"{BASE}/experiences", spaced).startswith("9ebd7a80")
    assert canonical_body(spaced) == b'{"page":1,"results_per_page":50,"sort_by":"id","sort_direction":"asc"}'


@pytest.mark.parametrize("empty", [None, b"", ""])
def test_empty_bodies_stay_empty(empty):
    assert canonical_body(empty) == b""


def test_authorization_header_format():
    assert authorization_header("ab12") == "Convert-HMAC-SHA256 Signature=ab12"
