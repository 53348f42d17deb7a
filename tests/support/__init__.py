"""Helpers every test suite shares: servers (in-process and real processes), accounts, test
engines, webhook receivers, pictures, and the databases and broker of the scaled layout.

- ``harness``: the app in this process (``AppServer``), over ASGI or a loopback socket.
- ``server``: a real ``openkling serve`` process (``LiveServer``), for tests where the process
  is the point.
- ``processes``: how tests start processes, so that they die with the test run.
- ``accounts``: accounts made through the task layer; signed tokens.
- ``engines``: a scripted engine and one that waits on an event the test controls.
- ``webhooks``: loopback receivers for callbacks.
- ``infra``: PostgreSQL databases and Redis prefixes of one test each.
- ``pictures``: images with known content, and how to compare frames.
"""
