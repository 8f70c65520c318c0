"""Convert's signature: the reference's worked examples, and vectors computed independently with openssl."""

import pytest

from source_convert.components.signing import authorization_header, canonical_body, compact_json, sign

KEY_ID = "demo-app-id-1234"
SECRET = "demo-secret-abcdef"
EXPIRES = "1767225600"
BASE = "https://api.convert.com/api/v2/accounts/100001/projects/200002"


def test_worked_example_post_list_gives_the_documented_authorization_header():
    body = compact_json({"page": 1, "results_per_page": 50, "sort_by": "id", "sort_direction": "asc"}).encode()
    assert body == b'{"page":1,"results_per_page":50,"sort_by":"id","sort_direction":"asc"}'
    assert authorization_header(sign(KEY_ID, SECRET, EXPIRES, f"{BASE}/experiences", body)) == (
        "Convert-HMAC-SHA256 Signature=77f3ec5afbcef03df9addc51e558ba6863d7a02cc51563d294a14be4850847df"
    )


def test_worked_example_get_without_body_signs_the_empty_string():
    assert sign(KEY_ID, SECRET, EXPIRES, f"{BASE}/experiences/300003", None) == (
        "363dc926e84a94d9b3d43a33653a1b1d630df3035fad889bc7a694224f604f1c"
    )


def test_unicode_and_slashes_are_sent_and_signed_unescaped():
    body = canonical_body('{"search": "caf\\u00e9/\\u00f1 \\ud83d\\ude00", "url": "https:\\/\\/x.example\\/a\\/b"}')
    assert body.decode("utf-8") == '{"search":"café/ñ 😀","url":"https://x.example/a/b"}'
    # openssl dgst -sha256 -hmac demo-secret-abcdef over the sign string with that body
    assert sign(KEY_ID, SECRET, EXPIRES, f"{BASE}/goals", body) == (
        "649415777c5dace6a66b1743269c7924128d18659a1eb34c8cb107fff7d12c20"
    )


def test_a_spaced_json_body_is_rewritten_compact_in_its_own_key_order():
    spaced = b'{"sort_by": "id", "page": 1, "only": [3, 1]}'
    assert canonical_body(spaced) == b'{"sort_by":"id","page":1,"only":[3,1]}'


def test_a_body_that_is_not_json_is_kept_byte_for_byte():
    assert canonical_body(b"a=1&b=%2F") == b"a=1&b=%2F"


@pytest.mark.parametrize("empty", [None, b"", ""])
def test_empty_bodies_stay_empty(empty):
    assert canonical_body(empty) == b""
