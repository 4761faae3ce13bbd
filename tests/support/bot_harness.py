"""The bot as `newsbot run` starts it, in-process, for tests and scripts that drive it through the
local Bot API server: initialise, post_init, poll; stopped in the reverse order."""

from __future__ import annotations

from contextlib import asynccontextmanager

from bot.telegram_app import build_application, start_services, stop_services


@asynccontextmanager
async def running(engine, timeout_s: float = 10.0, **options):
    app = build_application(engine, engine.config, timeout_s=timeout_s, **options)
    await app.initialize()
    await start_services(app)
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await stop_services(app)
        await app.shutdown()


async def settled(api, app) -> None:
    """Nothing more is on its way: one catch-up with the store (matching included) finished after
    this call, then the alert sender finished a whole round that began after that. What a test
    sees afterwards is all there is; no sleep stands in for "long enough"."""
    from bot.services import services_of

    s = services_of(app)
    refreshed = s.refreshes
    await api.wait_for(lambda: s.refreshes >= refreshed + 2)  # the one running now may predate the call
    if s.sender is not None:
        rounds = s.sender.rounds
        s.sender.wake()
        await api.wait_for(lambda: s.sender.rounds >= rounds + 2)
