"""The connector run in-process through the CDK's entrypoint against ``HttpMocker``, one module per stream.

``config.py``, ``request_builder.py`` and ``response_builder.py`` build what a test gives and expects
(sample answers in ``unit_tests/resource/http/response/``; project-level requests go to ``PROJECT_ID``
unless a test names another project); ``states.py`` writes saved states as this version keeps them, one
cursor per project; ``conftest.py`` freezes the signing clock, records retry waits instead of sleeping,
and fails a test on any request no mock matched (``HttpMocker.assert_number_of_calls`` checks how often
one was made); ``runner.py`` runs ``read`` of one or several streams, and ``check``.

Besides the modules per stream: several projects in one connection (``test_projects_scope.py``), every
project (``test_all_projects.py``), reads shared by streams (``test_shared_parent_reads.py``) and states
of earlier versions (``test_state_upgrade.py``).
"""
