"""Kubernetes' rules for names, labels and quantities, as pure functions.

* Object names of Services (and so of everything composer names after a
  service) are DNS-1123 labels: at most 63 characters of ``a-z0-9-``, starting
  and ending alphanumeric.  Compose allows ``_``, ``.`` and capitals in service
  names; ``dns_label`` maps them to ``-`` and lower case, and the converter
  refuses two names that end up equal.
* Label keys are ``[prefix/]name`` (prefix a DNS-1123 subdomain, name at most
  63 characters of ``[A-Za-z0-9_.-]`` starting and ending alphanumeric); values
  the same without the prefix, or empty.  A compose label that does not fit
  becomes an annotation (annotations take any text).
* CPU quantities are written in millicores (``500m``) unless whole; memory in
  the largest binary unit (``Ki``, ``Mi``, ``Gi``) that divides it exactly, else
  plain bytes: the value stays exact.
"""

from __future__ import annotations

import math
import re

_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_C_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
_SVC_PORT_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
MAX_LABEL = 63


def dns_label(name: str) -> str:
    """``name`` as a DNS-1123 label: lower case, other characters as ``-``, at most 63 characters."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return text[:MAX_LABEL].rstrip("-") or "x"


def is_dns_label(name: str) -> bool:
    return len(name) <= MAX_LABEL and bool(_LABEL_RE.match(name))


def is_dns_subdomain(name: str) -> bool:
    return 0 < len(name) <= 253 and all(is_dns_label(part) for part in name.split("."))


def is_label_value(value: str) -> bool:
    return len(value) <= MAX_LABEL and bool(_LABEL_NAME_RE.match(value))


def is_label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not is_dns_subdomain(prefix):
        return False
    return bool(name) and is_label_value(name)


def is_env_name(name: str) -> bool:
    """A name ``envFrom`` exports (others are skipped by the kubelet, so they go to ``env``)."""
    return bool(_C_IDENTIFIER_RE.match(name))


def is_config_key(key: str) -> bool:
    """A key of a ConfigMap's or a Secret's ``data``."""
    return len(key) <= 253 and bool(_CONFIG_KEY_RE.match(key))


def is_port_name(name: str) -> bool:
    """A container port's name (IANA_SVC_NAME: at most 15 characters, a letter among them)."""
    return (
        len(name) <= 15
        and bool(_SVC_PORT_NAME_RE.match(name))
        and "--" not in name
        and any(c.isalpha() for c in name)
    )


def cpu_quantity(cores: float) -> str:
    """0.5 -> ``500m``, 2 -> ``2``; at least ``1m`` (Kubernetes' resolution)."""
    millicores = max(1, round(cores * 1000))
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(size: int) -> str:
    """67108864 -> ``64Mi``; a size no binary unit divides stays in bytes."""
    for unit, factor in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def whole_seconds(value: float, minimum: int = 1) -> int:
    """A duration as the whole seconds Kubernetes takes, rounded up (a probe never runs sooner)."""
    return max(minimum, math.ceil(value - 1e-9))
