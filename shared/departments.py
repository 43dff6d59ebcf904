"""The university's departments (contract demo data): code → Chinese name."""

from __future__ import annotations

DEPARTMENTS: dict[str, str] = {
    "xb": "学校办公室",
    "jgdw": "机关党委",
    "jw": "纪委办公室",
    "xxh": "信息化建设与管理处",
    "gzc": "国资处",
    "jjc": "基建处",
    "hq": "后勤集团",
    "bwc": "保卫处",
    "bmc": "保密处",
    "cwc": "财务处",
    "hkxy": "航空学院",
}


def department_name(code: str) -> str:
    return DEPARTMENTS.get(code, code)


def department_code(name_or_code: str) -> str | None:
    """The code for a Chinese name or a code; None when unknown."""
    text = name_or_code.strip()
    if text in DEPARTMENTS:
        return text
    return next((code for code, name in DEPARTMENTS.items() if name == text), None)
