"""What the tests (and the scripts that reuse them) stand on: a local Bot API server (`botapi`),
the bot run in-process against it (`bot_harness`), a fault burst (`fault_burst`), a feed and page
server on 127.0.0.1 (`feed_server`) and the demo articles (`demo`). No tests here."""
