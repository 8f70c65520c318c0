"""Config validation: every bad field gets a message naming it and what was expected, never the secret."""

import pytest

from source_convert.config import ConfigError, connection_specification, validate_config

SECRET = "TOP-SECRET-value-123"
VALID = {"key_id": "kid_1", "key_secret": SECRET, "account_id": "100001", "project_id": "200002"}


def message_for(**changes):
    config = {**VALID, **changes}
    config = {key: value for key, value in config.items() if value is not ...}
    with pytest.raises(ConfigError) as raised:
        validate_config(config)
    text = str(raised.value)
    assert SECRET not in text
    return text


def test_valid_config_gets_spec_defaults():
    config = validate_config({**VALID, "unknown_field": "ignored"})
    assert config["api_base_url"] == "https://api.convert.com/api/v2"
    assert config["report_lookback_days"] == 3
    assert config["max_concurrent_requests"] == 2
    assert config["unknown_field"] == "ignored"


def test_whole_number_ids_are_accepted():
    assert validate_config({**VALID, "account_id": 100001})["account_id"] == "100001"
    assert validate_config({**VALID, "project_id": 200002})["project_ids"] == ["200002"]


@pytest.mark.parametrize(
    "project_id, project_ids, all_projects",
    [
        ("200002", ["200002"], False),
        ("200002, 200003", ["200002", "200003"], False),
        (" 200003 ,200002 ", ["200003", "200002"], False),  # the order given, spaces around entries ignored
        ("*", [], True),  # filled in by SourceConvert from the account's projects list
        (" * ", [], True),
    ],
)
def test_the_project_scope_is_normalized_to_its_project_ids(project_id, project_ids, all_projects):
    config = validate_config({**VALID, "project_id": project_id})
    assert (config["project_ids"], config["all_projects"]) == (project_ids, all_projects)
    assert config["project_id"] == project_id  # what the user wrote stays as written


def test_a_project_scope_problem_is_reported_once_beside_the_other_problems():
    text = message_for(project_id="200002,,x", account_id="x")
    assert text.count("'project_id'") == 1
    assert "has an empty entry (entry 2 of 3)" in text and "'account_id' (Account ID)" in text


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"key_id": ...}, "'key_id' (Key ID) is required but missing."),
        ({"key_secret": ""}, "'key_secret' (Key Secret) must not be empty."),
        ({"key_secret": "   "}, "'key_secret' (Key Secret) must be a non-empty value without spaces or control characters."),
        ({"key_id": "kid with space"}, "'key_id' (Key ID) must be letters, digits"),
        ({"key_id": "ключ"}, "'key_id' (Key ID) must be letters, digits"),
        ({"key_id": "k" * 300}, "'key_id' (Key ID) must be at most 256 characters long (got 300)."),
        ({"account_id": "abc"}, "'account_id' (Account ID) must be a positive whole number, e.g. 100001. Got 'abc'."),
        ({"account_id": True}, "'account_id' (Account ID) must be of type string."),
        ({"project_id": "0"}, "'project_id' (Project ID) entry '0' is not a project ID (a positive whole number of up to 15 digits): "
                              "expected a project ID such as 200002, a comma-separated list such as 200002, 200003, or * for every project."),
        ({"project_id": "200002, 2000x3"}, "'project_id' (Project ID) entry '2000x3' is not a project ID"),
        ({"project_id": "200002, 0200003"}, "'project_id' (Project ID) entry '0200003' is not a project ID"),
        ({"project_id": "1" * 16}, "'project_id' (Project ID) entry '1111111111111111' is not a project ID"),
        ({"project_id": "200002,,200003"}, "'project_id' (Project ID) has an empty entry (entry 2 of 3): expected a project ID such as 200002"),
        ({"project_id": "200002,"}, "'project_id' (Project ID) has an empty entry (entry 2 of 2)"),
        ({"project_id": "*, 200002"}, "'project_id' (Project ID) may be * alone, not * within a list"),
        ({"project_id": "200002, 200003, 200002"}, "'project_id' (Project ID) lists project 200002 more than once."),
        ({"project_id": ""}, "'project_id' (Project ID) must be a project ID (e.g. 200002), a comma-separated list of project IDs"),
        ({"project_id": 12.5}, "'project_id' (Project ID) must be of type string."),
        ({"api_base_url": "http://api.convert.com/api/v2"}, "'api_base_url' (API Base URL) must be https://host/path"),
        ({"api_base_url": "ftp://127.0.0.1/x"}, "'api_base_url' (API Base URL) must be https://host/path"),
        ({"report_lookback_days": 31}, "'report_lookback_days' (Report Lookback Days) must be at most 30."),
        ({"report_lookback_days": "3"}, "'report_lookback_days' (Report Lookback Days) must be of type integer."),
        ({"max_concurrent_requests": 0}, "'max_concurrent_requests' (Max Concurrent Requests) must be at least 1."),
        ({"max_concurrent_requests": 11}, "'max_concurrent_requests' (Max Concurrent Requests) must be at most 10."),
        ({"requests_per_minute": -5}, "'requests_per_minute' (Requests Per Minute) must be at least 1."),
        ({"start_date": "01/02/2025"}, "'start_date' (Start Date) must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ."),
        ({"start_date": "2025-02-30"}, "'start_date' (Start Date) is not a real calendar date or time."),
        ({"api_base_url": "https://api.convert.com:99999/api/v2"}, "'api_base_url' (API Base URL) must have a port from 1 to 65535."),
        ({"report_utc_offset_hours": 5.3}, "'report_utc_offset_hours' (Report Time Zone (UTC Offset in Hours)) must be a multiple of 0.25."),
        ({"daily_report_metrics": ["visitors"]}, "'daily_report_metrics' (Daily Report Metrics) must be one of 'conversion_rate'"),
        ({"daily_report_metrics": []}, "'daily_report_metrics' (Daily Report Metrics) must list at least 1 item(s)."),
        ({"daily_report_metrics": ["conversion_rate"] * 2}, "'daily_report_metrics' (Daily Report Metrics) must not list an item twice."),
        ({"report_segments": ["os"]}, "'report_segments' (Report Segments) must be one of 'devices', 'browsers'"),
        ({"report_segment_countries": ["US", "XX"]},
         "'report_segment_countries' (Report Segment Countries) lists 'XX', which is not an ISO 3166-1 alpha-2 country code"),
        ({"report_segment_countries": ["de"]}, "lists 'de', which is not an ISO 3166-1 alpha-2 country code (in capitals: 'DE')"),
        ({"report_segment_countries": ["UK"]}, "lists 'UK', which is not an ISO 3166-1 alpha-2 country code: expected two capital"),
        ({"report_segment_countries": [826]}, "'report_segment_countries' (Report Segment Countries) must be of type string."),
        ({"report_segments": ["devices", "countries"]},
         "'report_segment_countries' (Report Segment Countries) must list at least one country code when 'report_segments'"),
    ],
)
def test_bad_field_gets_specific_message(changes, expected):
    assert expected in message_for(**changes)


def test_secret_value_is_never_echoed():
    text = message_for(key_secret=SECRET + " with space")
    assert "Key Secret" in text


def test_several_problems_are_all_reported_in_form_order():
    text = message_for(account_id="x", key_id="", project_id="y")
    assert text.index("key_id") < text.index("account_id") < text.index("project_id")


def test_non_object_config_is_refused():
    with pytest.raises(ConfigError, match="must be a JSON object"):
        validate_config(["not", "an", "object"])


def test_localhost_http_is_allowed_for_the_simulator():
    for url in ("http://127.0.0.1:8737/api/v2", "http://localhost/api/v2", "https://api.convert.com/api/v2"):
        assert validate_config({**VALID, "api_base_url": url})["api_base_url"] == url


def test_blank_optional_fields_are_treated_as_unset():
    assert validate_config({**VALID, "start_date": ""})["start_date"] == "2010-01-01T00:00:00Z"
    assert "requests_per_minute" not in validate_config({**VALID, "requests_per_minute": None})


def test_defaults_are_copies_that_a_component_cannot_change_for_the_next_config():
    first = validate_config(VALID)
    first["daily_report_metrics"].clear()
    assert validate_config(VALID)["daily_report_metrics"] == connection_specification()["properties"]["daily_report_metrics"]["default"] != []


def test_a_start_date_is_normalized_to_a_utc_timestamp():
    assert validate_config({**VALID, "start_date": "2025-03-04"})["start_date"] == "2025-03-04T00:00:00Z"


@pytest.mark.parametrize("field, value", [("key_id", "kid\n"), ("key_secret", SECRET + "\r"), ("account_id", "100001\n")])
def test_control_characters_are_refused_even_where_a_pattern_lets_them_through(field, value):
    assert f"'{field}'" in message_for(**{field: value})


def test_whole_number_floats_count_as_integers():
    config = validate_config({**VALID, "max_concurrent_requests": 3.0, "report_lookback_days": 0.0})
    assert config["max_concurrent_requests"] == 3 and isinstance(config["max_concurrent_requests"], int)
    assert "'max_concurrent_requests'" in message_for(max_concurrent_requests=2.5)


def test_the_authentication_method_defaults_to_request_signing_and_takes_secret_key():
    assert validate_config(VALID)["auth_method"] == "request_signing"
    assert validate_config({**VALID, "auth_method": "secret_key"})["auth_method"] == "secret_key"
    assert validate_config({**VALID, "auth_method": ""})["auth_method"] == "request_signing"  # blank is unset


@pytest.mark.parametrize("value", ["bearer", "secretKey", "SECRET_KEY", 1, ["secret_key"]])
def test_an_unknown_authentication_method_is_refused_naming_the_field_and_the_allowed_values(value):
    text = message_for(auth_method=value)
    assert "'auth_method' (Authentication Method)" in text
    if isinstance(value, str):
        assert "must be one of 'request_signing', 'secret_key'" in text


def test_a_secret_sent_in_a_header_must_be_ascii():
    secret = "s3cr\u00e9t-\u2603"
    with pytest.raises(ConfigError) as raised:
        validate_config({**VALID, "key_secret": secret, "auth_method": "secret_key"})
    assert "'key_secret' (Key Secret) must be ASCII with authentication method 'secret_key'" in str(raised.value)
    assert secret not in str(raised.value)
    assert validate_config({**VALID, "key_secret": secret})["key_secret"] == secret  # signing: only hashed
