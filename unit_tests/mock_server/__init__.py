"""The connector run in-process through the CDK's entrypoint against ``HttpMocker``, one module per stream.

``config.py``, ``request_builder.py`` and ``response_builder.py`` build what a test gives and expects
(sample answers in ``unit_tests/resource/http/response/``); ``conftest.py`` freezes the signing clock,
records retry waits instead of sleeping, and fails a test on any request no mock matched;
``runner.py`` runs ``read`` and ``check``.
"""
