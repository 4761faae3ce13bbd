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
