"""The oversight console for disclosure officers and oversight (docs/console.md).

Must never render a value unescaped, show a traceback, or serve a page of personal data
without a session, a role check, ``Cache-Control: no-store`` and a ledger audit event.
"""

from __future__ import annotations

from taxmatch.console.app import ConsoleSettings, console_app

__all__ = ["ConsoleSettings", "console_app"]
