"""Interface text in English and Chinese.

The language follows the browser (``st.context.locale``) unless the sidebar switch picks one.
Answers are not translated here: they follow the language of the question. The interface's
strings live in the UI layer, in ``pages/strings.toml`` (one table per key with its ``en`` and
``zh`` text); the backend's progress events carry stage keys (``status_*``)
and its errors codes and fields (:meth:`Translator.error`, templates in pages/i18n_errors.py).
Every key has both languages, every error class a Chinese template (checked by tests/test_app.py).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pages.i18n_errors import ERRORS_ZH

LANGUAGES = ("en", "zh")


def pick_language(choice: str | None, browser_locale: str | None) -> str:
    """'en' or 'zh': an explicit choice wins, else the browser's locale ('zh-CN' → 'zh')."""
    if choice in LANGUAGES:
        return str(choice)
    return "zh" if (browser_locale or "").lower().startswith("zh") else "en"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"

    def has(self, key: str) -> bool:
        return key in STRINGS

    def __call__(self, key: str, **fields: Any) -> str:
        en, zh = STRINGS.get(key, (key, key))
        text = zh if self.lang == "zh" else en
        return text.format(**fields) if fields else text

    def status(self, stage: str) -> str:
        """The agent's progress stage (``backend.answering.events.Status``) as a message."""
        return self(f"status_{stage}")

    def error(self, err: Any) -> str:
        """A backend error (``backend.errors.AnnalystError``, or its ``record()``: a job's result)
        in the interface language: in English its message; in Chinese the template of its code
        (pages/i18n_errors.py) filled with its fields, or the message as raised where the code
        or a field is unknown (an older record)."""
        if isinstance(err, dict):
            message = str(err.get("error") or "")
            code, fields = str(err.get("error_code") or ""), err.get("error_fields") or {}
        else:
            message, code = str(err), str(getattr(err, "code", ""))
            fields = getattr(err, "fields", {})
        if self.lang != "zh" or code not in ERRORS_ZH:
            return message
        try:
            return ERRORS_ZH[code].format(**fields)
        except (KeyError, IndexError, ValueError, TypeError):
            return message


def _load_strings() -> dict[str, tuple[str, str]]:
    """key → (English, 中文), from pages/strings.toml (text, not code: translators edit it)."""
    with STRINGS_FILE.open("rb") as f:
        return {key: (v["en"], v["zh"]) for key, v in tomllib.load(f).items()}


STRINGS_FILE = Path(__file__).with_name("strings.toml")
STRINGS: dict[str, tuple[str, str]] = _load_strings()
