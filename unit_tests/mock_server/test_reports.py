"""aggregated_reports through HttpMocker: one row per goal and variation, experience id added."""

import json

from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from unit_tests.mock_server.config import ACCOUNT_ID, BASE_URL, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.helpers import read_stream
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import page_response


def test_aggregated_report_is_flattened_for_started_experiences_only() -> None:
    with HttpMocker() as http_mocker:
        experiences = [{"id": 7, "start_time": 1700000000, "goals": [11]}, {"id": 8, "start_time": 0, "goals": [11]}]
        http_mocker.post(ConvertRequestBuilder.project_list("experiences").with_body(include=["goals"]).build(), page_response(experiences, 2))
        report = {
            "reportData": [{"goal_id": 11, "variations": [
                {"id": 1, "visitors": 100, "conversion_data": {"conversions": 5, "conversion_rate": 5.0}},
                {"id": 2, "visitors": 90, "conversion_data": {"conversions": 9, "conversion_rate": 10.0, "confidence": 91.2}},
            ]}],
            "variations_data": [{"id": 1, "name": "Original", "is_baseline": True}, {"id": 2, "name": "B", "is_baseline": False}],
        }
        http_mocker.post(
            HttpRequest(url=f"{BASE_URL}/accounts/{ACCOUNT_ID}/projects/{PROJECT_ID}/experiences/7/aggregated_report"),
            HttpResponse(body=json.dumps({"data": report}), status_code=200),
        )
        output = read_stream(ConfigBuilder().build(), "aggregated_reports")
        rows = sorted((r.record.data for r in output.records), key=lambda row: row["variation_id"])
        assert [(row["experience_id"], row["goal_id"], row["variation_id"], row["conversions"]) for row in rows] == [(7, 11, 1, 5), (7, 11, 2, 9)]
        assert rows[1]["variation_name"] == "B" and rows[1]["confidence"] == 91.2
